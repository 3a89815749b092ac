import { fork } from 'node:child_process'
import { access, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import t, { type Test } from 'tap'
import { openSession } from '../examples/existing-schema/auth.js'
import type { Db } from '../examples/existing-schema/db.js'
import { DiskBlobs, buildServer, type RemovedEvent } from '../examples/existing-schema/server.js'
import { ChatStore } from '../examples/existing-schema/store.js'
import { BODIES, DM_DELETE, IM_DELETE } from './helpers/app.js'
import { serverSchema } from './helpers/existing-schema.js'
import { server } from './helpers/postgres.js'

// The example chat server (examples/existing-schema/) over HTTP on the real PostgreSQL server:
// its own tables, its own sessions, its own blobs, the plugin's answers.

const real = await server(t)

/** The chat server's world, written as the chat server writes it: ids are the uuids PostgreSQL makes. */
async function world (db: Db, blobs: DiskBlobs): Promise<{ id: Record<string, string>, session: Record<string, string> }> {
  const id: Record<string, string> = {}
  const insert = async (key: string, text: string, values: unknown[]): Promise<void> => {
    id[key] = (await db.query({ name: '', text: `${text} RETURNING id`, values })).rows[0].id
  }
  for (const [name, roles, deactivated] of [['ada', ['user']], ['bob', ['user']], ['carol', ['user']], ['root', ['admin']], ['gone', ['user'], true]] as const) {
    await insert(name, 'INSERT INTO accounts (username, roles, deactivated_at) VALUES ($1, $2, $3)', [name, roles, deactivated === true ? new Date() : null])
  }
  await insert('nameless', 'INSERT INTO accounts (username) VALUES (NULL)', [])
  const conversation = async (key: string, kind: string, members: string[], extra: { parent?: string, federated?: boolean } = {}): Promise<void> => {
    await insert(key, 'INSERT INTO conversations (kind, parent_id, federated) VALUES ($1, $2, $3)', [kind, extra.parent === undefined ? null : id[extra.parent], extra.federated === true])
    for (const member of members) {
      await db.query({ name: '', text: 'INSERT INTO conversation_members (conversation_id, account_id) VALUES ($1, $2)', values: [id[key], id[member]] })
    }
  }
  await conversation('adaBob', 'direct', ['ada', 'bob'])
  await conversation('discussion', 'group', ['ada', 'carol'], { parent: 'adaBob' })
  await conversation('nested', 'group', ['bob'], { parent: 'discussion' })
  await conversation('bobCarol', 'direct', ['bob', 'carol'])
  await conversation('adaCarolBridged', 'direct', ['ada', 'carol'], { federated: true })
  await conversation('general', 'channel', ['ada', 'bob'])
  const post = async (key: string, conversation: string, author: string, thread?: string): Promise<void> => {
    await insert(key, 'INSERT INTO posts (conversation_id, author_id, body, thread_parent_id) VALUES ($1, $2, $3, $4)',
      [id[conversation], id[author], `${key} by ${author}`, thread === undefined ? null : id[thread]])
  }
  await post('plan', 'adaBob', 'ada')
  await post('reply', 'adaBob', 'bob', 'plan')
  await post('replyToReply', 'adaBob', 'ada', 'reply')
  await post('inDiscussion', 'discussion', 'carol')
  await post('inNested', 'nested', 'bob')
  await post('inGeneral', 'general', 'ada')
  await post('inBobCarol', 'bobCarol', 'bob')
  const attachment = async (key: string, conversation: string, post: string | null): Promise<void> => {
    await insert(key, 'INSERT INTO attachments (conversation_id, post_id, storage_key, file_name) VALUES ($1, $2, $3, $4)',
      [id[conversation], post === null ? null : id[post], `${key}.bin`, `${key}.bin`])
    await blobs.put(`${key}.bin`, key)
  }
  await attachment('planFile', 'adaBob', 'plan')
  await attachment('neverPosted', 'adaBob', null)
  await attachment('nestedFile', 'nested', 'inNested')
  await attachment('generalFile', 'general', 'inGeneral')
  for (const [post, reader, conversation] of [['plan', 'bob', 'adaBob'], ['inDiscussion', 'ada', 'discussion'], ['inGeneral', 'bob', 'general']]) {
    await db.query({ name: '', text: 'INSERT INTO read_marks (post_id, account_id, conversation_id) VALUES ($1, $2, $3)', values: [id[post], id[reader], id[conversation]] })
  }
  const session: Record<string, string> = {}
  for (const name of ['ada', 'bob', 'carol', 'root', 'gone', 'nameless']) session[name] = await openSession(db, id[name])
  session.adaExpired = await openSession(db, id.ada, -1)
  return { id, session }
}

/** Every row's id per table (read marks by post and reader): what an erase changed, when compared. */
async function rows (db: Db): Promise<Record<string, string[]>> {
  const tables = { conversations: 'id', conversation_members: 'id', posts: 'id', attachments: 'id', read_marks: "post_id || '/' || account_id" }
  const result: Record<string, string[]> = {}
  for (const [table, key] of Object.entries(tables)) {
    result[table] = (await db.query({ name: '', text: `SELECT (${key})::text AS key FROM ${table} ORDER BY 1`, values: [] })).rows.map((row) => row.key)
  }
  return result
}

async function chatServer (t: Test, admin: pg.Pool) {
  const { db, teardown } = await serverSchema(admin)
  t.teardown(teardown)
  const dir = await mkdtemp(join(tmpdir(), 'chat-blobs-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const blobs = new DiskBlobs(dir)
  const told: Array<{ to: string, event: RemovedEvent }> = []
  const app = await buildServer({ db, blobs, notify: (to, event) => { told.push({ to, event }) } })
  t.teardown(() => app.close())
  const { id, session } = await world(db, blobs)
  const send = async (who: string | undefined, payload: object, url = IM_DELETE): Promise<string> => (await app.inject({
    method: 'POST', url, payload, headers: who === undefined ? {} : { authorization: `Bearer ${session[who] ?? who}` }
  })).body
  return { app, db, dir, told, id, send }
}

if (real !== null) {
  const admin = (real.options as { pool: pg.Pool }).pool

  t.test('a member deletes a DM by username: its posts, threads, attachments, read marks and discussions go, then its blobs, and every member is told', async (t) => {
    const { app, db, dir, told, id, send } = await chatServer(t, admin)
    const before = await rows(db)
    t.equal(await send('ada', { username: 'bob' }), BODIES.success)
    const after = await rows(db)
    const gone = (table: string): string[] => before[table].filter((key) => !after[table].includes(key))
    t.strictSame(gone('conversations'), [id.adaBob, id.discussion, id.nested].sort(), 'the DM and its discussions, nested too')
    t.strictSame(gone('posts'), [id.plan, id.reply, id.replyToReply, id.inDiscussion, id.inNested].sort(), 'every post, thread replies too')
    t.strictSame(gone('attachments'), [id.planFile, id.neverPosted, id.nestedFile].sort(), 'attachments, also the one never posted')
    t.strictSame(gone('read_marks'), [`${id.plan}/${id.bob}`, `${id.inDiscussion}/${id.ada}`].sort(), 'read marks')
    t.equal(gone('conversation_members').length, 5, 'the memberships of the DM and its discussions')
    t.strictSame(after.posts, [id.inGeneral, id.inBobCarol].sort(), 'the other conversations keep their posts')

    await app.close() // waits for the after-erase work: the blobs and the notifications
    t.strictSame((await readdir(dir)).sort(), ['generalFile.bin'], 'the blobs of the erased attachments are removed, no other')
    const events = told.map(({ to, event }) => `${to} ${event.conversationId} ${event.type} by ${event.by}`).sort()
    t.strictSame(events, [
      [id.ada, id.adaBob], [id.bob, id.adaBob], [id.ada, id.discussion], [id.carol, id.discussion], [id.bob, id.nested]
    ].map(([to, conversation]) => `${to} ${conversation} conversation-removed by ada`).sort(), 'every member of the DM and of its discussions is told, once')
  })

  t.test('an admin deletes a DM he is not in, by its id: both members are told; a second delete finds nothing', async (t) => {
    const { app, db, told, id, send } = await chatServer(t, admin)
    t.equal(await send('root', { roomId: id.bobCarol }, DM_DELETE), BODIES.success)
    t.notOk((await rows(db)).conversations.includes(id.bobCarol))
    t.equal(await send('root', { roomId: id.bobCarol }), BODIES.invalidChannel, 'gone: no such room any more')
    await app.close()
    t.strictSame(told.map(({ to }) => to).sort(), [id.bob, id.carol].sort())
  })

  t.test('what the example server refuses changes nothing', async (t) => {
    const { app, db, dir, told, id, send } = await chatServer(t, admin)
    const before = await rows(db)
    const adaBob = { roomId: id.adaBob }
    t.equal(await send(undefined, adaBob), BODIES.unauthorized, 'no Authorization header')
    t.equal(await send('not-a-session', adaBob), BODIES.unauthorized, 'an unknown session')
    t.equal(await send('adaExpired', adaBob), BODIES.unauthorized, 'an expired session')
    t.equal(await send('gone', { username: 'bob' }), BODIES.unauthorized, 'a deactivated account, its session still unexpired')
    t.equal(await send('nameless', adaBob), BODIES.unauthorized, 'an account without a username')
    t.equal(await send('ada', { roomId: id.general }), BODIES.invalidChannel, 'a channel')
    t.equal(await send('ada', { roomId: id.discussion }), BODIES.invalidChannel, 'a discussion')
    t.equal(await send('ada', { roomId: 'general' }), BODIES.invalidChannel, 'an id that is no uuid')
    t.equal(await send('ada', { username: 'zed' }), BODIES.invalidChannel, 'no such user')
    t.equal(await send('carol', adaBob), BODIES.notAllowed, 'a DM of others, for someone who is neither in it nor an admin')
    t.equal(await send('ada', { roomId: id.adaCarolBridged }), BODIES.federated, 'a bridged DM')
    t.strictSame(await rows(db), before, 'every row is still there')
    await app.close()
    t.strictSame((await readdir(dir)).length, 4, 'every blob too')
    t.strictSame(told, [], 'nobody is told anything')
  })

  // The README tells how to run the server on its own: this runs it so, as a user would.
  t.test('server.ts runs on its own: it creates its tables, seeds a first start, serves the endpoint; a second start seeds nothing', async (t) => {
    const { db, schema, teardown } = await serverSchema(admin)
    t.teardown(teardown)
    await db.exec('DROP TABLE read_marks, attachments, posts, conversation_members, conversations, sessions, accounts')
    const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
    url.searchParams.set('options', `-c search_path=${schema}`)
    const start = async (): Promise<{ started: Record<string, string>, stop: () => Promise<number | null> }> => {
      // Forked, it runs TypeScript as this file does (tap's loader, or tsx alone): the coverage it
      // records maps onto the same lines as this process's.
      const child = fork('examples/existing-schema/server.ts', [], {
        env: { ...process.env, DATABASE_URL: url.href, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe', 'ipc']
      })
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      t.teardown(() => { child.kill() })
      const started = await new Promise<Record<string, string>>((resolve, reject) => {
        let output = ''
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
          output += chunk
          const line = output.split('\n').find((text) => text.startsWith('{"address"'))
          if (line !== undefined) resolve(JSON.parse(line))
        })
        child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
        exited.then((code) => reject(new Error(`server.ts exited (${code}) before it listened:\n${output}`)))
      })
      t.teardown(() => rm(started.blobs, { recursive: true, force: true }))
      return { started, stop: async () => { child.kill('SIGTERM'); return await exited } }
    }

    const first = await start()
    t.strictSame(await readdir(first.started.blobs), ['plan.txt'], 'the seeded attachment has its blob')
    const res = await fetch(`${first.started.address}${IM_DELETE}`, {
      method: 'POST', headers: { authorization: `Bearer ${first.started.ada}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob' })
    })
    t.equal(await res.text(), BODIES.success)
    t.strictSame((await rows(db)).posts, [], 'the seeded DM is erased')
    t.equal(await first.stop(), 0, 'SIGTERM closes the server, which then exits by itself')
    await t.rejects(access(join(first.started.blobs, 'plan.txt')), 'the blob was removed before it closed')

    const second = await start()
    t.strictSame(Object.keys(second.started).sort(), ['address', 'blobs'], 'a second start has no new sessions to print')
    const { rows: [{ count }] } = await db.query({ name: '', text: 'SELECT count(*)::int AS count FROM accounts', values: [] })
    t.equal(count, 2, 'and seeded no second pair of accounts')
    t.equal(await second.stop(), 0)
  })

  t.test('an id that is no uuid finds nothing, and never reaches a ::uuid cast', async (t) => {
    const { db, teardown } = await serverSchema(admin)
    t.teardown(teardown)
    const blobs = new DiskBlobs(await mkdtemp(join(tmpdir(), 'chat-blobs-')))
    t.teardown(() => rm(blobs.dir, { recursive: true, force: true }))
    const { id } = await world(db, blobs)
    const store = new ChatStore(db)
    for (const bad of ['general', '', `${id.adaBob}x`, '#' + id.adaBob]) {
      t.equal(await store.findRoomById(bad), null, `findRoomById('${bad}')`)
      t.equal(await store.findDirectRoom([id.ada, bad]), null, `findDirectRoom with '${bad}'`)
      t.equal(await store.findSubscription(bad, id.ada), null, `findSubscription in '${bad}'`)
      t.equal(await store.findSubscription(id.adaBob, bad), null, `findSubscription of '${bad}'`)
      t.equal(await store.eraseRoom(bad), null, `eraseRoom('${bad}')`)
    }
    t.equal((await store.findUser(id.ada.toUpperCase()))?.username, 'ada', 'a uuid in capitals is still that uuid')
    t.equal(await store.findUser('zed'), null)
  })
}
