// Infrastructure faults injected for real into a server process (test/helpers/fault-server.ts)
// running on a PostgreSQL cluster of this test's own: its backends terminated, the cluster
// restarted and stopped, a lock held by another client, the process SIGKILLed while the blob
// storage is down. The process must survive each, answer within the documented bounds, and
// remove every blob of every erased DM in the end. Costs are reported as comments, not asserted.
import { createServer } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import t, { type Test } from 'tap'
import type { Dataset } from '../index.js'
import { PostgresStore } from '../postgres.js'
import { BODIES, IM_DELETE, expectedAfter } from './helpers/app.js'
import { startServer, within, type Child } from './helpers/child.js'
import { fixture } from './helpers/fixture.js'
import { post } from './helpers/http.js'
import { privateCluster, type Cluster } from './helpers/private-postgres.js'

// Server processes starting TypeScript on a busy two-core machine, and 10 s locks: generous bounds.
t.setTimeout(240_000)
const SCRIPT = fileURLToPath(new URL('./helpers/fault-server.ts', import.meta.url))
const cluster = await privateCluster(t)

let schemas = 0

/** A schema of `dataset` on the cluster and a server process on it, its blobs at `blobs`. */
async function serverOn (t: Test, cluster: Cluster, dataset: Dataset, blobs = 'http://127.0.0.1:9/', { more = [], purge = {} }: { more?: string[], purge?: Record<string, string> } = {}): Promise<{ child: Child, loader: PostgresStore, env: Record<string, string> }> {
  const schema = `faults_${++schemas}`
  const loader = new PostgresStore({ connectionString: cluster.url, schema })
  t.teardown(async () => { await loader.close() })
  await loader.migrate()
  await loader.import(dataset)
  // Rows by the thousand, written by the database itself (`$schema` stands for the schema).
  for (const statement of more) await cluster.query(statement.replaceAll('$schema', schema))
  const env = { DATABASE_URL: cluster.url, SCHEMA: schema, BLOB_URL: blobs, ...purge }
  return { child: await startServer(t, SCRIPT, env), loader, env }
}

interface Asked { at: number, took: number, answer: string }

/** Asks the server back to back, four at a time, until stopped: every answer and how long it took. */
function keepAsking (ask: () => Promise<string>): { answers: Asked[], stop: () => Promise<void> } {
  const state = { running: true }
  const answers: Asked[] = []
  const worker = async (): Promise<void> => {
    while (state.running) {
      const at = Date.now()
      const answer = await ask().catch((err: Error) => `no answer: ${err.message}`)
      answers.push({ at, took: Date.now() - at, answer })
    }
  }
  const workers = Array.from({ length: 4 }, worker)
  return { answers, stop: async () => { state.running = false; await Promise.all(workers) } }
}

/** Resolves once ten answers in a row asked after `since` were `expected`: when the first of them was asked. */
async function recovered (answers: Asked[], since: number, expected: string): Promise<number> {
  for (;;) {
    const after = answers.filter(({ at }) => at >= since).sort((a, b) => a.at - b.at)
    for (let i = 0; i + 10 <= after.length; i++) {
      if (after.slice(i, i + 10).every(({ answer }) => answer === expected)) return after[i].at
    }
    await sleep(20)
  }
}

const alive = (child: Child): boolean => child.process.exitCode === null && child.process.signalCode === null

function costs (answers: Asked[], from: number, back: number): string {
  const during = answers.filter(({ at }) => at >= from && at < back)
  const counts: Record<string, number> = {}
  for (const { answer } of during) counts[answer.slice(0, 3)] = (counts[answer.slice(0, 3)] ?? 0) + 1
  return `answers ${JSON.stringify(counts)}, worst wait ${Math.max(0, ...during.map(({ took }) => took))} ms, served again ${back - from} ms after the fault began`
}

t.test('a host pool with no error listener: terminated backends, a restart and a stop kill no server process', async (t) => {
  if (cluster === null) return
  const { child } = await serverOn(t, cluster, fixture())
  const invalid = `400 ${BODIES.invalidChannel}`
  // Two lookups on the database per request: the caller's token, then the room.
  const load = keepAsking(async () => {
    const { status, body } = await post(child.base, IM_DELETE, 'admin', { roomId: 'nope' })
    return `${status} ${body}`
  })
  t.teardown(load.stop)
  const died = child.exited.then(({ code, signal }) => { throw new Error(`the server process died (${code ?? signal})`) })
  died.catch(() => {})
  const back = async (since: number): Promise<number> => await within(60_000, 'served again', Promise.race([recovered(load.answers, since, invalid), died]))

  const served = await back(0)
  const terminated = Date.now()
  const { rows: [{ count }] } = await cluster.query(
    "SELECT count(pg_terminate_backend(pid))::int AS count FROM pg_stat_activity WHERE application_name = 'im-delete-fault-server'")
  t.ok(count > 0, `the server process's ${count} backends terminated`)
  const afterTerminate = await back(Date.now())
  t.ok(alive(child), 'the process survives terminated backends')
  t.comment(`pg_terminate_backend: ${costs(load.answers, terminated, afterTerminate)}`)

  const restarted = Date.now()
  await cluster.restart()
  const afterRestart = await back(Date.now())
  t.ok(alive(child), 'the process survives a restart')
  t.comment(`restart: ${costs(load.answers, restarted, afterRestart)}`)

  const stopped = Date.now()
  await cluster.stop()
  t.same(await post(child.base, IM_DELETE, 'admin', { roomId: 'nope' }).then(({ status, body }) => `${status} ${body}`),
    `500 ${BODIES.internal}`, 'with the database stopped: the spec 500')
  t.ok(alive(child), 'the process survives a stop')
  await cluster.start()
  const afterStop = await back(Date.now())
  t.comment(`stop, then start: ${costs(load.answers, stopped, afterStop)}`)
  await load.stop()
  t.same(load.answers.filter(({ at, answer }) => at >= served && answer !== invalid && answer !== `500 ${BODIES.internal}`), [],
    'every answer was the 400 asked for or the spec 500')
})

t.test('a lock held 10 s by another client: the erase answers the spec 500 while it is still held, and changes nothing', async (t) => {
  if (cluster === null) return
  const { child, loader, env } = await serverOn(t, cluster, fixture())
  const before = await loader.dump()
  const holder = new pg.Client({ connectionString: cluster.url })
  await holder.connect()
  t.teardown(async () => { await holder.end() })

  // A table lock stops the lookups; a row lock stops the erase half-way, its deletes done.
  for (const [what, lock] of [
    ['rooms locked (the lookup waits)', `LOCK TABLE ${env.SCHEMA}.rooms IN ACCESS EXCLUSIVE MODE`],
    ['a read receipt locked (the erase waits mid-way)', `SELECT 1 FROM ${env.SCHEMA}.read_receipts WHERE rid = 'alicebob' FOR UPDATE`]
  ]) {
    await holder.query('BEGIN')
    await holder.query(lock)
    let released = false
    const release = async (): Promise<void> => { if (!released) { released = true; await holder.query('ROLLBACK') } }
    const cap = new AbortController()
    const held = sleep(10_000, undefined, { signal: cap.signal }).then(release, () => {})
    const asked = Date.now()
    const { status, body } = await post(child.base, IM_DELETE, 'admin', { roomId: 'alicebob' })
    const heldWhenAnswered = !released
    const took = Date.now() - asked
    await release()
    cap.abort()
    await held
    t.same({ status, body, heldWhenAnswered }, { status: 500, body: BODIES.internal, heldWhenAnswered: true }, `${what}: the spec 500, before the lock was released`)
    t.comment(`${what}: answered after ${took} ms`)
    t.same(await loader.dump(), before, `${what}: nothing changed`)
  }
  t.same(await post(child.base, IM_DELETE, 'admin', { roomId: 'alicebob' }).then(({ status, body }) => ({ status, body })),
    { status: 200, body: BODIES.success }, 'with the lock gone, the erase succeeds')
  t.same(await loader.dump(), await expectedAfter(fixture(), 'alicebob'), 'and removes the DM and all it held')
})

/** Blob storage over HTTP (DELETE /<upload id>): while down it answers 503 and removes nothing. */
async function blobStorage (t: Test, ids: string[]): Promise<{ url: string, held: Set<string>, asked: Set<string>, state: { up: boolean } }> {
  const held = new Set(ids)
  const asked = new Set<string>()
  const state = { up: false }
  const server = createServer((request, response) => {
    const id = decodeURIComponent((request.url ?? '/').slice(1))
    asked.add(id)
    if (state.up) held.delete(id)
    response.writeHead(state.up ? 204 : 503).end()
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => { server.close(resolve) })
  })
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, held, asked, state }
}

/** Resolves once `done()` holds, checked every 20 ms. */
async function until (done: () => boolean | Promise<boolean>): Promise<void> {
  while (!await done()) await sleep(20)
}

t.test('SIGKILL during a blob-storage outage: after a restart with the storage back, every blob of every erased DM is removed', async (t) => {
  if (cluster === null) return
  // The fixture, and 20 more DMs of 10 uploads each: more pending removals than one page.
  const dataset = fixture()
  const dms = Array.from({ length: 20 }, (_, i) => `blob-dm-${i}`)
  dataset.rooms.push(...dms.map((_id) => ({ _id, t: 'd', uids: ['admin', 'bob'], usernames: ['admin', 'bob'] })))
  dataset.uploads.push(...dms.flatMap((rid) => Array.from({ length: 10 }, (_, j) => ({ _id: `${rid}-up-${j}`, rid }))))
  const erasedRooms = ['alicebob', ...dms]
  const erasedBlobs = dataset.uploads.filter(({ rid }) => erasedRooms.includes(rid) || rid.startsWith('disc-1')).map(({ _id }) => _id)
  const storage = await blobStorage(t, dataset.uploads.map(({ _id }) => _id))
  const { child, env } = await serverOn(t, cluster, dataset, storage.url)

  const answers = await Promise.all(erasedRooms.map(async (roomId) => (await post(child.base, IM_DELETE, 'admin', { roomId })).status))
  t.same(answers, erasedRooms.map(() => 200), 'every DM erased while the blob storage is down')
  await within(30_000, 'every blob asked for', until(() => erasedBlobs.every((id) => storage.asked.has(id))))
  t.equal(storage.held.size, dataset.uploads.length, 'every removal failed: nothing removed')
  child.process.kill('SIGKILL')
  t.same(await child.exited, { code: null, signal: 'SIGKILL' }, 'the server process killed')
  const pending = async (): Promise<string[]> =>
    (await cluster.query(`SELECT upload_id FROM ${env.SCHEMA}.pending_blobs ORDER BY upload_id COLLATE "C"`)).rows.map((row) => row.upload_id)
  t.same(await pending(), [...erasedBlobs].sort(), 'every removal still to do is recorded in the database')

  storage.state.up = true
  const restarted = Date.now()
  const again = await startServer(t, SCRIPT, env)
  await within(60_000, 'every erased blob removed', until(() => erasedBlobs.every((id) => !storage.held.has(id))))
  t.comment(`${erasedBlobs.length} blobs removed ${Date.now() - restarted} ms after the restart began (process start included)`)
  t.same([...storage.held], dataset.uploads.filter(({ _id }) => !erasedBlobs.includes(_id)).map(({ _id }) => _id), 'every blob of every erased DM removed, no other')
  await within(30_000, 'the pending removals forgotten', until(async () => (await pending()).length === 0))
  t.pass('and forgotten by the database once removed')
  again.process.kill('SIGTERM')
  t.same(await within(30_000, 'the server process exiting', again.exited), { code: 0, signal: null }, 'the server process shuts down cleanly')
})

t.test('SIGKILL mid-purge: a restarted server finishes the purge, every row and every blob of the DM', async (t) => {
  if (cluster === null) return
  const n = 20_000
  const rows = (table: string, prefix: string, count: number): string =>
    `INSERT INTO $schema.${table} (_id, rid, doc) SELECT '${prefix}' || g, 'alicebob', jsonb_build_object('_id', '${prefix}' || g, 'rid', 'alicebob') FROM generate_series(1, ${count}) g`
  const uploads = Array.from({ length: n / 10 }, (_, i) => `big-up-${i + 1}`)
  const dataset = fixture()
  const tree = new Set(['alicebob', 'disc-1', 'disc-1-1'])
  const treeUploads = [...uploads, ...dataset.uploads.filter(({ rid }) => tree.has(rid)).map(({ _id }) => _id)]
  const storage = await blobStorage(t, [...treeUploads, ...dataset.uploads.filter(({ rid }) => !tree.has(rid)).map(({ _id }) => _id)])
  storage.state.up = true
  // Steps of 100 rows of each kind, 20 ms apart: some 200 steps, several seconds.
  const { child, env } = await serverOn(t, cluster, dataset, storage.url, {
    more: [rows('messages', 'big-m-', n), rows('read_receipts', 'big-rr-', n), rows('uploads', 'big-up-', n / 10)],
    purge: { PURGE_BATCH: '100', PURGE_PAUSE: '20' }
  })
  const left = async (): Promise<Record<string, number>> => (await cluster.query(
    `SELECT (SELECT count(*) FROM ${env.SCHEMA}.messages WHERE rid = ANY($1))::int AS messages,
            (SELECT count(*) FROM ${env.SCHEMA}.read_receipts WHERE rid = ANY($1))::int AS "readReceipts",
            (SELECT count(*) FROM ${env.SCHEMA}.uploads WHERE rid = ANY($1))::int AS uploads,
            (SELECT count(*) FROM ${env.SCHEMA}.rooms WHERE _id = ANY($1))::int AS rooms,
            (SELECT count(*) FROM ${env.SCHEMA}.purges)::int AS purges`, [[...tree]])).rows[0]

  const answer = await post(child.base, IM_DELETE, 'admin', { roomId: 'alicebob' })
  t.same({ status: answer.status, body: answer.body }, { status: 200, body: BODIES.success }, 'answered at once')
  t.same((await post(child.base, IM_DELETE, 'admin', { roomId: 'alicebob' })).body, BODIES.invalidChannel, 'a second erase is refused: the DM is gone for every reader')
  await sleep(300)
  child.process.kill('SIGKILL')
  t.same(await child.exited, { code: null, signal: 'SIGKILL' }, 'the server process killed mid-purge')
  const killed = await left()
  t.ok(killed.messages > 0 && killed.purges === 1, `rows were left, and the purge recorded (${JSON.stringify(killed)})`)

  const restarted = Date.now()
  const again = await startServer(t, SCRIPT, env)
  await within(120_000, 'the purge finished', until(async () => (await left()).purges === 0))
  t.comment(`the purge finished ${Date.now() - restarted} ms after the restart began (process start included)`)
  t.same(await left(), { messages: 0, readReceipts: 0, uploads: 0, rooms: 0, purges: 0 }, 'every row of the DM and its discussions is gone')
  await within(60_000, 'every blob of the DM removed', until(() => treeUploads.every((id) => !storage.held.has(id))))
  t.same([...storage.held].sort(), dataset.uploads.filter(({ rid }) => !tree.has(rid)).map(({ _id }) => _id).sort(), 'every blob of the DM removed, no other')
  await within(30_000, 'the pending removals forgotten', until(async () =>
    (await cluster.query(`SELECT count(*)::int AS n FROM ${env.SCHEMA}.pending_blobs`)).rows[0].n === 0))
  again.process.kill('SIGTERM')
  t.same(await within(30_000, 'the server process exiting', again.exited), { code: 0, signal: null }, 'the server process shuts down cleanly')
})
