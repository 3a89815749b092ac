// Infrastructure faults injected for real into a server process (test/helpers/fault-server.ts)
// running on a PostgreSQL cluster of this test's own: its backends terminated, the cluster
// restarted and stopped, a lock held by another client, the process SIGKILLed while the blob
// storage is down. The process must survive each, answer within the documented bounds, and
// remove every blob of every erased DM in the end. Costs are reported as comments, not asserted.
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
async function serverOn (t: Test, cluster: Cluster, dataset: Dataset, blobs = 'http://127.0.0.1:9/'): Promise<{ child: Child, loader: PostgresStore, env: Record<string, string> }> {
  const schema = `faults_${++schemas}`
  const loader = new PostgresStore({ connectionString: cluster.url, schema })
  t.teardown(async () => { await loader.close() })
  await loader.migrate()
  await loader.import(dataset)
  const env = { DATABASE_URL: cluster.url, SCHEMA: schema, BLOB_URL: blobs }
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
