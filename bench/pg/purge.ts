// Big DMs on PostgresStore with the plugin's default options (issue 18): time to the 200 and to
// fully purged, a second erase and another DM's erase meanwhile, the server's peak RSS, blob
// removals in flight; the purge's throughput against a hand-written batched DELETE loop with the
// same batch size on an identical copy, side by side, alternating which goes first.
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { RemovedCounts } from '../../index.js'
import { fixture, authHeaders } from '../../lib/fixture.js'
import { PostgresStore } from '../../postgres.js'
import { purgeApp } from '../support/purge-app.js'
import { linearFit, median, mib, round } from '../support/stats.js'
import { SCHEMA_PREFIX, dropSchema } from './schemas.js'

export interface PurgeBenchSettings {
  /** Messages (and read receipts) of the erased DM, a tenth as many uploads, one size per step. */
  sizes: number[]
  /** Pairs (purge, hand loop) per size, each on fresh identical copies: the ratio is their median. */
  reps: number[]
}

/** The purge may remove rows no slower than this share of the hand-written loop's rate. */
export const PURGE_TARGET = 0.8
const ANSWER_TARGET_MS = 1000
const RSS_TARGET_MIB = 400

type OurSide = Omit<PurgeSize, 'messages' | 'handRowsPerS' | 'ratio' | 'ratios' | 'met' | 'dbOnlyRowsPerS'> & { rows: number }

export interface PurgeSize {
  messages: number
  removed: RemovedCounts
  /** ms from sending the request to its 200. */
  answerMs: number
  /** ms from the 200 to the purge's end (onAfterPurge), and to the last blob removed. */
  purgedMs: number
  blobsDoneMs: number
  /** Asked right after the 200 in the run with a file store (null in the runs measuring the pace alone). */
  secondErase: number | null
  otherDm: { status: number, ms: number } | null
  /** Rows removed per second: the purge with the file store, the purge without one (as the hand loop, database only), the hand loop, and database-only purge ÷ hand. */
  purgeRowsPerS: number
  dbOnlyRowsPerS: number
  handRowsPerS: number
  ratio: number
  /** Each pair's purge ÷ hand rows/s. */
  ratios: number[]
  /** RSS before the request, and its peak from then until the last blob was removed. */
  rssBeforeMiB: number
  rssPeakMiB: number
  blobsInFlightPeak: number
  blobConcurrency: number
  /** Longest the event loop was held while the purge ran (ms). */
  loopHeldMs: number
  met: boolean
}

export interface PurgeBenchResult {
  settings: PurgeBenchSettings & { batchSize: number }
  sizes: PurgeSize[]
  /** Least-squares fit of purge ms against rows removed: r² (linear growth). */
  purgeFit: { msPerMillionRows: number, r2: number }
  met: boolean
}

const schemaOf = (side: string): string => `${SCHEMA_PREFIX}purge_${side}`

const TABLES = ['users', 'login_tokens', 'rooms', 'subscriptions', 'messages', 'uploads', 'read_receipts']

/** A schema on PostgresStore's tables holding the fixture: the tables of `from` copied in, when given. */
async function fresh (pool: pg.Pool, schema: string, from?: string): Promise<void> {
  await dropSchema(pool, schema)
  const store = new PostgresStore({ pool, schema })
  await store.migrate()
  if (from === undefined) await store.import(fixture())
  // It stops listening to the pool; the pool stays open.
  await store.close()
  if (from === undefined) return
  for (const table of TABLES) await pool.query(`INSERT INTO ${schema}.${table} SELECT * FROM ${from}.${table}`)
  for (const table of TABLES) await pool.query(`VACUUM (ANALYZE) ${schema}.${table}`)
  // No autovacuum of one side's millions of dead rows while the other side is measured.
  for (const table of TABLES) await pool.query(`ALTER TABLE ${schema}.${table} SET (autovacuum_enabled = false)`)
}

/** A fresh copy of `template` in `schema`, everything written out (a checkpoint) before a side runs on it. */
async function ready (pool: pg.Pool, schema: string, template: string): Promise<void> {
  await fresh(pool, schema, template)
  await pool.query('CHECKPOINT')
}

/** A schema on PostgresStore's tables: the fixture, and a DM alicebob of `n` messages and read receipts and n/10 uploads. */
export async function world (pool: pg.Pool, schema: string, n: number): Promise<void> {
  await fresh(pool, schema)
  const doc = (prefix: string, extra: string): string =>
    `jsonb_build_object('_id', '${prefix}' || g, 'rid', 'alicebob', 'ts', '2026-01-01T00:00:00.000Z'${extra})`
  await pool.query(`INSERT INTO ${schema}.messages (_id, rid, doc) SELECT 'big-m-' || g, 'alicebob', ${doc('big-m-', ", 'msg', 'a message of a busy bot, number ' || g, 'u', jsonb_build_object('_id', 'alice', 'username', 'alice')")} FROM generate_series(1, ${n}) g`)
  await pool.query(`INSERT INTO ${schema}.read_receipts (_id, rid, doc) SELECT 'big-rr-' || g, 'alicebob', ${doc('big-rr-', ", 'messageId', 'big-m-' || g, 'userId', 'bob'")} FROM generate_series(1, ${n}) g`)
  await pool.query(`INSERT INTO ${schema}.uploads (_id, rid, doc) SELECT 'big-up-' || g, 'alicebob', ${doc('big-up-', ", 'name', 'file-' || g || '.png', 'size', 1024")} FROM generate_series(1, ${n / 10}) g`)
  for (const table of ['messages', 'read_receipts', 'uploads', 'rooms', 'subscriptions']) await pool.query(`VACUUM (ANALYZE) ${schema}.${table}`)
}

/** The careful hand-written purge: each table in batches of `batchSize`, each batch its own statement, then the rooms. */
async function handLoop (pool: pg.Pool, schema: string, batchSize: number): Promise<number> {
  const rooms = ['alicebob', 'disc-1', 'disc-1-1']
  let removed = 0
  for (const table of ['uploads', 'messages', 'read_receipts', 'subscriptions']) {
    for (;;) {
      const { rowCount } = await pool.query({
        name: `hand_purge_${table}`,
        text: `DELETE FROM ${schema}.${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${schema}.${table} WHERE rid = ANY($1::text[]) LIMIT $2))`,
        values: [rooms, batchSize]
      })
      removed += rowCount ?? 0
      if ((rowCount ?? 0) < batchSize) break
    }
  }
  await pool.query(`DELETE FROM ${schema}.rooms WHERE _id = ANY($1::text[])`, [rooms])
  return removed
}

async function left (pool: pg.Pool, schema: string): Promise<number> {
  const { rows: [row] } = await pool.query(
    `SELECT (SELECT count(*) FROM ${schema}.messages WHERE rid IN ('alicebob', 'disc-1', 'disc-1-1')) +
            (SELECT count(*) FROM ${schema}.read_receipts WHERE rid IN ('alicebob', 'disc-1', 'disc-1-1')) +
            (SELECT count(*) FROM ${schema}.uploads WHERE rid IN ('alicebob', 'disc-1', 'disc-1-1')) +
            (SELECT count(*) FROM ${schema}.purges) + (SELECT count(*) FROM ${schema}.pending_blobs) AS n`)
  return Number(row.n)
}

/** The plugin with its defaults on PostgresStore over `pool`, listening; a file store whose removals take 1 ms. */
async function ourSide (pool: pg.Pool, schema: string, n: number, files: boolean, log: (line: string) => void): Promise<OurSide> {
  const store = new PostgresStore({ pool, schema })
  const { app, purged, blobs } = await purgeApp(store, { files })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const post = async (who: 'admin' | 'alice', roomId: string): Promise<{ status: number, ms: number }> => {
    const started = performance.now()
    const answer = await fetch(`${base}/api/v1/im.delete`, { method: 'POST', headers: { ...authHeaders(who), 'content-type': 'application/json' }, body: JSON.stringify({ roomId }) })
    await answer.text()
    return { status: answer.status, ms: performance.now() - started }
  }
  // The server's RSS and the longest hold of its event loop, sampled every 5 ms.
  const rssBefore = process.memoryUsage.rss()
  let rssPeak = rssBefore
  let held = 0
  let last = performance.now()
  const sampler = setInterval(() => {
    const now = performance.now()
    held = Math.max(held, now - last - 5)
    last = now
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
  }, 5)
  try {
    const answer = await post('alice', 'alicebob')
    const answered = performance.now()
    if (answer.status !== 200) throw new Error(`pg purge: the erase answered ${answer.status}`)
    // The run with a file store is the one reported: a second erase and another DM asked meanwhile.
    // The runs without one measure the purge's pace alone, as the hand loop's is.
    const secondErase = files ? (await post('alice', 'alicebob')).status : null
    const otherDm = files ? await post('admin', 'adminbob') : null
    const uploads = files ? n / 10 + 3 : 0
    const { at, removed } = await purged
    while (blobs.removed < uploads) await sleep(20)
    const blobsDone = performance.now()
    const rows = removed.messages + removed.readReceipts + removed.uploads + removed.subscriptions
    const purgedMs = at - answered
    log(`pg purge: ${n} messages${files ? ', with a file store' : ''}: 200 after ${answer.ms.toFixed(0)} ms, purged ${(purgedMs / 1000).toFixed(1)} s later` +
      `${files ? `, blobs ${((blobsDone - answered) / 1000).toFixed(1)} s later` : ''}, peak RSS ${mib(rssPeak)} MiB`)
    return {
      removed,
      rows,
      answerMs: round(answer.ms, 1),
      purgedMs: round(purgedMs, 0),
      blobsDoneMs: round(blobsDone - answered, 0),
      secondErase,
      otherDm: otherDm === null ? null : { status: otherDm.status, ms: round(otherDm.ms, 1) },
      purgeRowsPerS: round(rows / (purgedMs / 1000), 0),
      rssBeforeMiB: mib(rssBefore),
      rssPeakMiB: mib(rssPeak),
      blobsInFlightPeak: blobs.peak,
      blobConcurrency: 16,
      loopHeldMs: round(held, 1)
    }
  } finally {
    clearInterval(sampler)
    await app.close()
    // It stops listening to the pool, which lives on for the next run.
    await store.close()
  }
}

export async function measurePurge (pool: pg.Pool, url: string, settings: PurgeBenchSettings, log: (line: string) => void): Promise<PurgeBenchResult> {
  const batchSize = 5000
  const sizes: PurgeSize[] = []
  // Each side on a pool of its own for the whole run, as a server's pool lives: a PostgreSQL
  // backend's first big deletes run far slower than the same deletes once it has worked (the hand
  // loop at 100k: 0.36-0.53 million rows/s on a new connection, 0.58-0.74 on a used one, measured),
  // so a side on fresh connections would pay what the other does not.
  // One pair before the measured ones warms both. Idle connections are kept (pg closes them
  // after 10 s by default, and copying a big DM takes longer than that).
  const ourPool = new pg.Pool({ connectionString: url, max: 10, idleTimeoutMillis: 0 })
  const handPool = new pg.Pool({ connectionString: url, max: 10, idleTimeoutMillis: 0 })
  let warm = false
  try {
    for (const [index, n] of settings.sizes.entries()) {
      const [template, files, db, hand] = ['template', 'files', 'db', 'hand'].map(schemaOf)
      const reps = settings.reps[index] ?? 1
      log(`pg purge: making a world of ${n} messages`)
      await world(pool, template, n)
      // Each side on a copy made just before it runs: its pages as warm in shared buffers as the
      // other side's (a copy made before the other's would be partly evicted by it).
      const runHand = async (): Promise<number> => {
        await ready(pool, hand, template)
        const started = performance.now()
        const rows = await handLoop(handPool, hand, batchSize)
        return rows / ((performance.now() - started) / 1000)
      }
      const ours = async (): Promise<number> => {
        await ready(pool, db, template)
        return (await ourSide(ourPool, db, n, false, log)).purgeRowsPerS
      }
      if (!warm) {
        log('pg purge: one pair to warm both sides\' connections (not counted)')
        await ours()
        await runHand()
        warm = true
      }
      // The database-only purge and the hand loop side by side on fresh copies, alternating who goes first.
      const ratios: number[] = []
      const dbRates: number[] = []
      const handRates: number[] = []
      for (let rep = 0; rep < reps; rep++) {
        const [dbRate, handRate] = rep % 2 === 0 ? [await ours(), await runHand()] : [await runHand(), await ours()].reverse()
        if (await left(pool, db) !== 0) throw new Error(`pg purge: rows of the DM left after the purge of ${n}`)
        dbRates.push(dbRate)
        handRates.push(handRate)
        ratios.push(dbRate / handRate)
      }
      await fresh(pool, files, template)
      await dropSchema(pool, template)
      await pool.query('CHECKPOINT')
      const our = await ourSide(ourPool, files, n, true, log)
      if (await left(pool, files) !== 0) throw new Error(`pg purge: rows of the DM left after the purge of ${n}`)
      const ratio = round(median(ratios), 3)
      log(`pg purge: ${n} messages: purge ${round(median(dbRates), 0)} rows/s (${our.purgeRowsPerS} with the file store), hand loop ${round(median(handRates), 0)} rows/s, ratio ${ratio} (${ratios.map((r) => r.toFixed(3)).join(', ')})`)
      const { rows: _rows, ...rest } = our
      sizes.push({
        messages: n,
        ...rest,
        dbOnlyRowsPerS: round(median(dbRates), 0),
        handRowsPerS: round(median(handRates), 0),
        ratio,
        ratios: ratios.map((r) => round(r, 3)),
        met: our.answerMs <= ANSWER_TARGET_MS && our.secondErase === 400 && our.otherDm?.status === 200 &&
        our.rssPeakMiB < RSS_TARGET_MIB && our.blobsInFlightPeak <= our.blobConcurrency && ratio >= PURGE_TARGET
      })
      for (const schema of [files, db, hand]) await dropSchema(pool, schema)
    }
  } finally {
    await Promise.all([ourPool.end(), handPool.end()])
  }
  const { slope, r2 } = linearFit(sizes.map((s) => [s.removed.messages + s.removed.readReceipts + s.removed.uploads, s.purgedMs]))
  const purgeFit = { msPerMillionRows: round(slope * 1e6, 0), r2: round(r2, 4) }
  return { settings: { ...settings, batchSize }, sizes, purgeFit, met: sizes.every((s) => s.met) && (sizes.length < 3 || r2 >= 0.98) }
}
