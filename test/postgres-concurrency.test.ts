// Concurrency on the PostgreSQL server, through real HTTP: many erases of one DM, erases of
// many DMs, and writers racing an erase. PGlite is one connection, so this needs the server.
import t, { type Test } from 'tap'
import type { Dataset } from '../index.js'
import { PostgresStore } from '../postgres.js'
import { BODIES, DM_DELETE, IM_DELETE, expectedAfter, orphans } from './helpers/app.js'
import { ALICEBOB_TREE, fixture } from './helpers/fixture.js'
import { post } from './helpers/http.js'
import { SERVER_URL, blockedBy, server, session, type Backend } from './helpers/postgres.js'
import { served, type Served } from './helpers/served.js'

// Hundreds of requests and transactions on a busy two-core machine: a generous bound, no timing assertion.
t.setTimeout(180_000)
const real = await server(t)

const onServer = (title: string, fn: (t: Test, real: Backend) => Promise<void>): void => {
  t.test(`PostgreSQL server: ${title}`, async (t) => { if (real !== null) await fn(t, real) })
}

// The server's store has a pool of its own, as a deployment has it.
const ownPool = (schema: string): PostgresStore => new PostgresStore({ connectionString: SERVER_URL, schema })

onServer('100 concurrent deletes of one DM: one erases it, every other one is told it is gone', async (t, real) => {
  const { base, store, erased, removedFiles, logs, close } = await served(t, real, fixture(), { store: ownPool })
  const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
    await post(base, i % 2 === 0 ? IM_DELETE : DM_DELETE, 'admin', { roomId: 'alicebob' })))
  const tally = new Map<string, number>()
  for (const { status, body } of answers) tally.set(`${status} ${body}`, (tally.get(`${status} ${body}`) ?? 0) + 1)
  t.equal(tally.get(`200 ${BODIES.success}`), 1, 'exactly one 200')
  t.same([...tally.keys()].filter((answer) => !answer.startsWith('200 ')).filter((answer) =>
    answer !== `400 ${BODIES.invalidRoom}` && answer !== `400 ${BODIES.invalidChannel}`), [],
  `every other answer is 400 error-invalid-room or invalid-channel: ${JSON.stringify(Object.fromEntries(tally))}`)
  t.same(await store.dump(), await expectedAfter(fixture(), 'alicebob'), 'the DM, its discussions and all they held are gone, nothing else')
  await close()
  t.equal(erased.length, 1, 'the after-erase hook ran once')
  t.same(erased[0].removed, { messages: 5, subscriptions: 4, uploads: 3, readReceipts: 3, discussions: 2 }, 'with everything counted once')
  t.same(removedFiles.sort(), ALICEBOB_TREE.uploads, 'each file blob removed once')
  t.equal(logs.filter((line) => line.msg === 'im.delete: DM erased').length, 1, 'one audit line')
  t.same(logs.filter((line) => line.level >= 50), [], 'nothing logged as an error')
})

/** The fixture plus `n` DMs of admin's, each with content and a discussion with content. */
function manyDms (n: number): Required<Dataset> {
  const dataset = fixture()
  for (let i = 0; i < n; i++) {
    const [uid, rid, disc] = [`user-${i}`, `dm-${i}`, `dm-${i}-disc`]
    dataset.users.push({ _id: uid, username: uid, roles: ['user'] })
    dataset.rooms.push({ _id: rid, t: 'd', uids: ['admin', uid], usernames: ['admin', uid] }, { _id: disc, t: 'p', prid: rid })
    dataset.subscriptions.push(...['admin', uid].map((who) => ({ _id: `${rid}-${who}`, rid, u: { _id: who, username: who } })))
    dataset.messages.push({ _id: `${rid}-m1`, rid, msg: 'hi' }, { _id: `${rid}-m2`, rid, msg: 'hey', drid: disc }, { _id: `${disc}-m1`, rid: disc, msg: 'in the discussion' })
    dataset.uploads.push({ _id: `${rid}-f1`, rid, name: 'f.png', size: 1 })
    dataset.readReceipts.push({ _id: `${rid}-r1`, rid, messageId: `${rid}-m1`, userId: uid })
  }
  return dataset
}

onServer('concurrent deletes of 40 different DMs all succeed', async (t, real) => {
  const dataset = manyDms(40)
  const { base, store, erased, close } = await served(t, real, dataset, { store: ownPool })
  const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) =>
    // Half by id, half by the other member's username: both resolutions under load.
    i % 2 === 0
      ? await post(base, IM_DELETE, 'admin', { roomId: `dm-${i}` })
      : await post(base, DM_DELETE, 'admin', { username: `user-${i}` })))
  t.same(answers.map(({ status, body }) => `${status} ${body}`), answers.map(() => `200 ${BODIES.success}`), 'forty 200s')
  t.same(await store.dump(), await expectedAfter(dataset, ...Array.from({ length: 40 }, (_, i) => `dm-${i}`)), 'every one of them is gone, the rest untouched')
  await close()
  t.same(erased.map(({ room }) => room._id).sort(), Array.from({ length: 40 }, (_, i) => `dm-${i}`).sort(), 'each erased once')
})

const lateMessage = (schema: string, rid: string): string =>
  `INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ('late', '${rid}', '{"_id": "late", "rid": "${rid}", "msg": "sent during the erase"}')`

for (const end of ['COMMIT', 'ROLLBACK'] as const) {
  onServer(`a message inserted before the erase locks the DM, then ${end}: the erase waits, and leaves no orphan`, async (t, real) => {
    const { base, schema, store, erased, close } = await served(t, real, fixture(), { store: ownPool })
    const writer = await session(t, real)
    await writer.client.query(lateMessage(schema, 'alicebob'))
    const answer = post(base, IM_DELETE, 'admin', { roomId: 'alicebob' })
    t.match(await blockedBy(real.query, writer.pid), { query: /FOR UPDATE/ }, 'the erase waits for the writer, at its lock on the DM')
    await writer.client.query(end)
    t.equal((await answer).body, BODIES.success, 'then erases the DM')
    const dump = await store.dump()
    t.same(orphans(dump), [], 'no orphan')
    t.same(dump, await expectedAfter(fixture(), 'alicebob'), 'the DM is gone with all it held')
    await close()
    t.equal(erased[0].removed.messages, ALICEBOB_TREE.messages.length + Number(end === 'COMMIT'), `${end === 'COMMIT' ? 'the committed message was erased too' : 'the rolled back one never existed'}`)
  })
}

/** Starts an erase that waits mid-way (after its lock on the DM), then a writer inserting a message into the DM. */
async function insertDuringErase (t: Test, real: Backend, foreignKeys = true): Promise<{ inserted: Error | null, served: Served }> {
  const s = await served(t, real, fixture(), { store: ownPool, foreignKeys })
  const holder = await session(t, real)
  await holder.client.query(`SELECT 1 FROM ${s.schema}.read_receipts WHERE rid = 'alicebob' FOR UPDATE`)
  const answer = post(s.base, IM_DELETE, 'admin', { roomId: 'alicebob' })
  const eraser = await blockedBy(real.query, holder.pid)
  t.match(eraser, { query: /erase_rest/ }, 'the erase has locked the DM and deleted most of it, and waits (in the call deleting the rest, at the read receipt held)')
  const writer = await session(t, real)
  const inserting = writer.client.query(lateMessage(s.schema, 'alicebob')).then(() => null, (err: Error) => err)
  // With the foreign key the insert waits on the erase's lock of the DM; without it, it is done at once.
  const waiting = !foreignKeys ? await inserting : await blockedBy(real.query, eraser?.pid as number)
  t.match(waiting, !foreignKeys ? null : { pid: writer.pid }, !foreignKeys ? 'the insert went through' : 'the insert waits for the erase')
  if (!foreignKeys) await writer.client.query('COMMIT')
  await holder.client.query('ROLLBACK')
  t.equal((await answer).body, BODIES.success, 'the erase completes')
  const inserted = await inserting
  await writer.client.query('ROLLBACK')
  return { inserted, served: s }
}

onServer('a message inserted while the erase holds the DM fails on the foreign key: no orphan', async (t, real) => {
  const { inserted, served: { store } } = await insertDuringErase(t, real)
  t.match(inserted, { code: '23503', constraint: 'messages_rid_fkey' }, 'the insert fails: the DM is gone')
  const dump = await store.dump()
  t.same(orphans(dump), [], 'no orphan')
  t.same(dump, await expectedAfter(fixture(), 'alicebob'), 'the DM is gone with all it held')
})

onServer('the same race on a schema without foreign keys left an orphan: what migration 3 is for', async (t, real) => {
  const { inserted, served: { store } } = await insertDuringErase(t, real, false)
  t.equal(inserted, null, 'the insert succeeded')
  t.same(orphans(await store.dump()), ['messages/late'], 'the message outlived its DM')
})

onServer('a discussion started inside a discussion of the DM while the erase walks the tree is erased too', async (t, real) => {
  const { base, schema, store, erased, close } = await served(t, real, fixture(), { store: ownPool })
  const writer = await session(t, real)
  await writer.client.query(`INSERT INTO ${schema}.rooms (_id, t, prid, doc) VALUES ('late-disc', 'p', 'disc-1-1', '{"_id": "late-disc", "t": "p", "prid": "disc-1-1"}')`)
  await writer.client.query(lateMessage(schema, 'late-disc'))
  const answer = post(base, IM_DELETE, 'admin', { roomId: 'alicebob' })
  t.match(await blockedBy(real.query, writer.pid), { query: /FOR UPDATE OF r/ }, 'the erase waits for the writer, locking the discussions')
  await writer.client.query('COMMIT')
  t.equal((await answer).body, BODIES.success, 'then erases the DM')
  const dump = await store.dump()
  t.same(orphans(dump), [], 'no orphan')
  t.same(dump, await expectedAfter(fixture(), 'alicebob'), 'the new discussion and its message went with the DM')
  await close()
  t.same(erased[0].rooms.map(({ _id }) => _id), ['alicebob', 'disc-1', 'disc-1-1', 'late-disc'], 'the rooms erased')
})

onServer('erases of a DM and of its nested discussions at once: no deadlock, each room erased once', async (t, real) => {
  // Not through HTTP: the endpoint erases DMs only. These erases lock overlapping trees.
  const { store: loader, schema, teardown } = await real.fresh()
  t.teardown(teardown)
  const store = ownPool(schema)
  t.teardown(async () => { await store.close() })
  for (let round = 0; round < 10; round++) {
    await loader.import(fixture())
    const results = await Promise.all(ALICEBOB_TREE.rooms.map(async (roomId) => await store.eraseRoom(roomId)))
    const erased = results.flatMap((result) => result?.rooms.map(({ _id }) => _id) ?? [])
    t.same(erased.sort(), ALICEBOB_TREE.rooms, `round ${round}: every room of the tree erased once (${results.map((result) => result?.rooms.length ?? 0).join(', ')} by each erase)`)
    t.same(await store.dump(), await expectedAfter(fixture(), 'alicebob'), `round ${round}: nothing of the tree left`)
  }
})
