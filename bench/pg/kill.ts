// A big DM's purge across a crash (issue 18): the erase answered, the server process SIGKILLed a
// second later, a new one started on the same database. Every row of the DM must go in the end,
// every blob of it be removed, and nothing else: the pending purge and the pending blob removals
// are in the database, not in the dead process.
import { fork, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { authHeaders } from '../../lib/fixture.js'
import { round } from '../support/stats.js'
import { world } from './purge.js'
import { SCHEMA_PREFIX, dropSchema } from './schemas.js'

const SERVER = fileURLToPath(new URL('../support/purge-server.ts', import.meta.url))
const TREE = ['alicebob', 'disc-1', 'disc-1-1']
/** The restarted server must have finished within this (ms). */
const BOUND_MS = 600_000

export interface KillResult {
  messages: number
  /** The erase's answer, and when the first server was killed after it (ms). */
  answer: number
  killedAfterMs: number
  /** What was left when it died: rows of the DM and its discussions, pending purges. */
  leftAtKill: { rows: number, purges: number }
  /** From the new server's start (process start included) to the purge's end and to the last blob removed (ms). */
  purgedMs: number
  blobsDoneMs: number
  /** At the end: rows of the DM left, pending purges and blob removals left, DM blobs not removed, other blobs removed. */
  left: { rows: number, purges: number, pendingBlobs: number, blobsKept: number, othersRemoved: number }
  met: boolean
}

interface Server { process: ChildProcess, base: string, exited: Promise<unknown> }

async function start (env: Record<string, string>): Promise<Server> {
  const child = fork(SERVER, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const exited = new Promise((resolve) => { child.once('exit', resolve) })
  const base = await Promise.race([
    new Promise<string>((resolve) => { child.once('message', (message: { address: string }) => { resolve(message.address) }) }),
    exited.then(() => { throw new Error('pg kill: the server process exited before listening') })
  ])
  return { process: child, base, exited }
}

async function until (what: string, done: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = performance.now() + BOUND_MS
  while (!await done()) {
    if (performance.now() > deadline) throw new Error(`pg kill: ${what} not within ${BOUND_MS} ms`)
    await sleep(50)
  }
}

export async function measureKill (pool: pg.Pool, url: string, n: number, log: (line: string) => void): Promise<KillResult> {
  const schema = `${SCHEMA_PREFIX}kill`
  log(`pg kill: making a world of ${n} messages`)
  await world(pool, schema, n)
  const uploads = async (tree: boolean): Promise<string[]> => (await pool.query(
    `SELECT _id FROM ${schema}.uploads WHERE (rid = ANY($1)) = $2`, [TREE, tree])).rows.map((row) => row._id)
  // The blob storage: one blob per upload; a DELETE removes it.
  const dmBlobs = new Set(await uploads(true))
  const others = new Set(await uploads(false))
  let othersRemoved = 0
  const storage = createServer((request, response) => {
    const id = decodeURIComponent((request.url ?? '/').slice(1))
    if (others.has(id)) othersRemoved++
    dmBlobs.delete(id)
    response.writeHead(204).end()
  })
  await new Promise<void>((resolve) => { storage.listen(0, '127.0.0.1', resolve) })
  const env = { DATABASE_URL: url, SCHEMA: schema, BLOB_URL: `http://127.0.0.1:${(storage.address() as AddressInfo).port}` }
  const count = async (): Promise<{ rows: number, purges: number, pendingBlobs: number }> => {
    const { rows: [row] } = await pool.query(
      `SELECT (SELECT count(*) FROM ${schema}.messages WHERE rid = ANY($1)) + (SELECT count(*) FROM ${schema}.read_receipts WHERE rid = ANY($1)) +
              (SELECT count(*) FROM ${schema}.uploads WHERE rid = ANY($1)) + (SELECT count(*) FROM ${schema}.rooms WHERE _id = ANY($1)) AS rows,
              (SELECT count(*) FROM ${schema}.purges) AS purges, (SELECT count(*) FROM ${schema}.pending_blobs) AS pending`, [TREE])
    return { rows: Number(row.rows), purges: Number(row.purges), pendingBlobs: Number(row.pending) }
  }
  try {
    const first = await start(env)
    const answer = await fetch(`${first.base}/api/v1/im.delete`, { method: 'POST', headers: { ...authHeaders('alice'), 'content-type': 'application/json' }, body: JSON.stringify({ roomId: 'alicebob' }) })
    await answer.text()
    const answered = performance.now()
    await sleep(1000)
    first.process.kill('SIGKILL')
    await first.exited
    const killedAfterMs = performance.now() - answered
    const atKill = await count()
    log(`pg kill: ${n} messages: ${answer.status}, killed ${round(killedAfterMs, 0)} ms later with ${atKill.rows} rows of the DM and ${atKill.purges} purge left`)
    const restarted = performance.now()
    const second = await start(env)
    try {
      await until('the purge', async () => (await count()).purges === 0)
      const purgedMs = performance.now() - restarted
      await until('the blob removals', async () => dmBlobs.size === 0 && (await count()).pendingBlobs === 0)
      const blobsDoneMs = performance.now() - restarted
      const end = await count()
      const left = { rows: end.rows, purges: end.purges, pendingBlobs: end.pendingBlobs, blobsKept: dmBlobs.size, othersRemoved }
      log(`pg kill: the new server finished the purge ${(purgedMs / 1000).toFixed(1)} s after its start, the blobs ${(blobsDoneMs / 1000).toFixed(1)} s; left ${JSON.stringify(left)}`)
      return {
        messages: n,
        answer: answer.status,
        killedAfterMs: round(killedAfterMs, 0),
        leftAtKill: { rows: atKill.rows, purges: atKill.purges },
        purgedMs: round(purgedMs, 0),
        blobsDoneMs: round(blobsDoneMs, 0),
        left,
        met: answer.status === 200 && atKill.rows > 0 && atKill.purges === 1 && Object.values(left).every((value) => value === 0)
      }
    } finally {
      second.process.kill('SIGTERM')
      await second.exited
    }
  } finally {
    storage.closeAllConnections()
    await new Promise((resolve) => { storage.close(resolve) })
    await dropSchema(pool, schema)
  }
}
