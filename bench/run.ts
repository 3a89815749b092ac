/**
 * The benchmark suite (issue 4): `npm run bench [-- --quick] [-- --only http,memory,pg-erase,pg-lookups]`.
 *
 * - http: the plugin's throughput and latency on three paths, each against a bare Fastify floor
 * - memory: the server's RSS and heap (after a forced GC) around many requests
 * - pg-erase, pg-lookups: only when DATABASE_URL is set (PostgresStore pending: see bench/pg/store-adapter.ts)
 * - pg-purge: big DMs on PostgresStore (time to the 200 and to purged, RSS, blobs in flight, against a hand-written batched loop)
 * - pg-kill: a big DM's server SIGKILLed a second after the 200; a new server finishes the purge
 * - purge-loop: big DMs on MemoryStore and PGlite, the longest the event loop is held
 *
 * Prints a table; writes bench/results.json (a --quick run writes bench/results.local.json,
 * which is not committed). `--report` prints the Markdown tables of bench/results.json.
 */
import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { measureMemory, type MemoryResult } from './http/memory.js'
import { measureOverhead, type OverheadResult } from './http/overhead.js'
import { ERASE_TARGET, measureErase, type EraseBenchResult } from './pg/erase.js'
import { measurePgHttp, type PgHttpResult } from './pg/http.js'
import { measureLookups, type LookupBenchResult } from './pg/lookup.js'
import { PURGE_TARGET, measurePurge, type PurgeBenchResult } from './pg/purge.js'
import { measureKill, type KillResult } from './pg/kill.js'
import { LOOP_TARGET_MS, measurePurgeLoop, type LoopRow } from './purge-loop.js'
import { storeAdapter } from './pg/store-adapter.js'
import { markdownTable, table } from './support/table.js'

const SECTIONS = ['http', 'memory', 'pg-http', 'pg-erase', 'pg-lookups', 'pg-purge', 'pg-kill', 'purge-loop'] as const
type Section = typeof SECTIONS[number]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    'fresh-pg': { type: 'boolean', default: false },
    report: { type: 'boolean', default: false }
  }
})

const PLAN = values.quick
  ? {
      http: { rounds: 3, amount: 6_000, warmup: 2_000, connections: 16, messages: 2 },
      memory: { requests: 24_000, connections: 16, messages: 2 },
      pgHttp: { rounds: 3, amount: 1_000, amountRejected: 5_000, warmup: 300, connections: 16, poolSize: 10 },
      erase: { sizes: [1_000, 10_000], reps: 3 },
      lookups: { sizes: [10_000, 100_000], samples: 1_000 },
      purge: { sizes: [100_000], reps: [3] },
      kill: 100_000,
      loop: { memory: 100_000, pglite: 30_000 }
    }
  : {
      http: { rounds: 7, amount: 30_000, warmup: 5_000, connections: 16, messages: 2 },
      memory: { requests: 200_000, connections: 16, messages: 2 },
      pgHttp: { rounds: 11, amount: 3_000, amountRejected: 20_000, warmup: 600, connections: 16, poolSize: 10 },
      erase: { sizes: [1_000, 10_000, 100_000], reps: [41, 21, 7] },
      lookups: { sizes: [10_000, 1_000_000], samples: 5_000 },
      purge: { sizes: [100_000, 1_000_000, 3_000_000], reps: [5, 2, 1] },
      kill: 1_000_000,
      loop: { memory: 1_000_000, pglite: 300_000 }
    }

export interface Results {
  generatedAt: string
  quick: boolean
  machine: { nproc: number, cpu: string, memory: string, node: string, platform: string, loadAverageAtStart: number[] }
  commit: string
  http?: OverheadResult
  memory?: MemoryResult
  pg?: { database: string, http?: PgHttpResult, erase?: EraseBenchResult, lookups?: LookupBenchResult, purge?: PurgeBenchResult, kill?: KillResult } | { skipped: string }
  purgeLoop?: LoopRow[]
  /** The load average when the run ended (the start's is in machine). */
  loadAverageAtEnd?: number[]
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const fmt = (value: number | null | undefined, digits = 2): string => value === null || value === undefined ? '—' : value.toFixed(digits)
const verdict = (met: boolean | null | undefined): string => met === null || met === undefined ? '' : met ? 'met' : 'MISSED'

function git (...args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: here('.'), encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
}

/** The tables of a results file, as plain text or Markdown. */
export function render (results: Results, markdown: boolean): string {
  const draw = markdown ? markdownTable : table
  const parts: string[] = []
  const m = results.machine
  parts.push(`${results.quick ? 'quick run' : 'full run'} · ${results.generatedAt} · commit ${results.commit} · ` +
    `${m.nproc} cores (${m.cpu}) · ${m.memory} · Node ${m.node} · load average at start ${m.loadAverageAtStart.join(' ')}` +
    (results.loadAverageAtEnd === undefined ? '' : `, at end ${results.loadAverageAtEnd.join(' ')}`))
  if (results.http !== undefined) {
    const h = results.http
    parts.push('HTTP: POST /api/v1/im.delete, memory store, rate limiting OFF (rateLimit: false), logger off, ' +
      `${h.settings.connections} connections, ${h.settings.rounds} rounds × ${h.settings.amount} requests per server and path ` +
      '(floor and plugin alternating), medians of rounds; ratio = median of per-round plugin/floor req/s')
    parts.push(draw(
      ['path', 'floor req/s', 'plugin req/s', 'ratio', 'target', '', 'floor p50/p99 ms', 'plugin p50/p99 ms', 'server CPU µs/req floor/plugin', 'CPU ratio'],
      h.paths.map((p) => [
        p.label, fmt(p.floor.rps, 0), fmt(p.plugin.rps, 0), fmt(p.ratio, 3), p.target === null ? '—' : `≥ ${p.target}`, verdict(p.met),
        `${fmt(p.floor.p50)} / ${fmt(p.floor.p99)}`, `${fmt(p.plugin.p50)} / ${fmt(p.plugin.p99)}`,
        `${fmt(p.floor.cpuUsPerRequest, 1)} / ${fmt(p.plugin.cpuUsPerRequest, 1)}`, fmt(p.cpuRatio, 3)
      ])))
    parts.push('CPU ratio = floor ÷ plugin server CPU time per request: what the throughput ratio would be if the server, not the load generator ' +
      'sharing its 2 cores, were the bottleneck. Diagnostic only; the targets apply to the throughput ratio.')
    const row = (key: string): typeof h.paths[number] | undefined => h.paths.find((p) => p.path === key)
    const [success, noop, minimal] = [row('success'), row('successNoopStore'), row('successMinimalStore')]
    if (success !== undefined && noop !== undefined && minimal !== undefined) {
      const cpu = (p: typeof success, side: 'floor' | 'plugin'): number => p[side].cpuUsPerRequest
      parts.push('The success path by store, each against the floor run beside it: server CPU µs per request above the floor\'s, and the ratios')
      parts.push(draw(['the plugin on', 'CPU µs/req above the floor', 'req/s ratio', 'CPU ratio'], ([
        ['a no-op store: the plugin\'s own work, no storage work', noop],
        ['the minimal store: the least storage work with the contract\'s guarantees', minimal],
        ['MemoryStore: with its own guarantees too (full documents out, imports that replace by _id)', success]
      ] as const).map(([label, p]) => [label, fmt(cpu(p, 'plugin') - cpu(p, 'floor'), 1), fmt(p.ratio, 3), fmt(p.cpuRatio, 3)])))
    }
  }
  if (results.memory !== undefined) {
    const r = results.memory
    parts.push(`Memory: a fresh plugin server (${r.settings.dmsSeeded} DMs), ${r.settings.requests} requests, figures after a forced GC (--expose-gc)`)
    parts.push(draw(['after', 'requests', 'RSS MiB', 'heap used MiB'],
      r.checkpoints.map((c) => [c.after, String(c.requests), fmt(c.rssMiB, 1), fmt(c.heapUsedMiB, 1)])))
    parts.push(`RSS delta ${fmt(r.rssDeltaMiB, 1)} MiB, heap delta ${fmt(r.heapDeltaMiB, 1)} MiB; ` +
      `heap growth over the rejected half ${fmt(r.rejectedHeapDeltaMiB, 1)} MiB, heap kept beyond the erased DMs' share ${fmt(r.successHeapExcessMiB, 1)} MiB: ` +
      (r.bounded ? 'bounded' : 'GROWING'))
  }
  if (results.pg !== undefined) {
    if ('skipped' in results.pg) {
      parts.push(`PostgreSQL: skipped (${results.pg.skipped})`)
    } else {
      const { http, erase, lookups } = results.pg
      if (http !== undefined) {
        const h = http.settings
        parts.push(`PostgreSQL over HTTP (${results.pg.database}): the plugin on PostgresStore against a hand-written Fastify route, each on an identical copy ` +
          `(${h.dmsPerCopy} DMs of ${h.world}), pg pools of ${h.poolSize}, ${h.connections} connections, each success request erasing a different DM, ` +
          `${h.rounds} rounds × ${h.amount} requests (success) or ${h.amountRejected} (401, 400) per server, order rotated each round; medians of rounds, ratio = median of per-round plugin/hand req/s. ` +
          `The hand route looks up ${h.handLookups ?? ((h as { handUserLookup?: boolean }).handUserLookup === true ? 'user+room' : 'room')} before the erase, as the plugin does; ` +
          'plugin, unprepared = preparedStatements: false (PgBouncer < 1.21). CPU ratio = (server + PostgreSQL CPU per request) hand ÷ plugin: ' +
          'what the throughput ratio would be with CPU the only bottleneck (diagnostic; the targets apply to req/s)')
        parts.push(draw(
          ['path', 'hand req/s', 'plugin req/s', 'plugin/hand', 'target', '', 'unprepared req/s', 'unprepared/hand', 'p50/p99 ms hand · plugin',
            'server CPU µs/req hand/plugin/unprep.', 'PostgreSQL CPU µs/req hand/plugin/unprep.', 'CPU ratio hand/plugin', 'statements/req hand/plugin'],
          http.paths.map((p) => [
            p.label, fmt(p.sides.hand.rps, 0), fmt(p.sides.plugin.rps, 0), fmt(p.ratio, 3), p.target === null ? '—' : `≥ ${p.target}`, verdict(p.met),
            fmt(p.sides.pluginUnprepared.rps, 0), fmt(p.unpreparedRatio, 3),
            `${fmt(p.sides.hand.p50)}/${fmt(p.sides.hand.p99)} · ${fmt(p.sides.plugin.p50)}/${fmt(p.sides.plugin.p99)}`,
            `${fmt(p.sides.hand.serverCpuUs, 0)} / ${fmt(p.sides.plugin.serverCpuUs, 0)} / ${fmt(p.sides.pluginUnprepared.serverCpuUs, 0)}`,
            `${fmt(p.sides.hand.pgCpuUs, 0)} / ${fmt(p.sides.plugin.pgCpuUs, 0)} / ${fmt(p.sides.pluginUnprepared.pgCpuUs, 0)}`,
            fmt((p.sides.hand.serverCpuUs + p.sides.hand.pgCpuUs) / (p.sides.plugin.serverCpuUs + p.sides.plugin.pgCpuUs), 2),
            `${fmt(p.sides.hand.statementsPerRequest, 1)} / ${fmt(p.sides.plugin.statementsPerRequest, 1)}`
          ])))
      }
      if (erase !== undefined) {
        parts.push(`PostgreSQL erase (${results.pg.database}; tables by ${erase.layout}; store: ${erase.store ?? 'PENDING, see bench/pg/store-adapter.ts'}), ` +
          `paired median of ${Array.isArray(erase.settings.reps) ? erase.settings.reps.join(' / ') : erase.settings.reps} erases per size, each on a fresh identical copy, alternating who goes first`)
        parts.push(draw(['messages', 'uploads', 'receipts', 'subs', 'discussions', 'hand SQL ms', 'store ms', 'store/hand', 'target', ''],
          erase.sizes.map((s) => [String(s.messages), String(s.removed.uploads), String(s.removed.readReceipts), String(s.removed.subscriptions),
            String(s.removed.discussions), fmt(s.handMs), fmt(s.storeMs), fmt(s.ratio, 3), `≤ ${ERASE_TARGET}`, verdict(s.met)])))
        parts.push(`linear fit, ms per 1000 messages: hand ${fmt(erase.handFit.msPer1kMessages, 3)} (r² ${fmt(erase.handFit.r2, 4)})` +
          (erase.storeFit === null ? ', store pending' : `, store ${fmt(erase.storeFit.msPer1kMessages, 3)} (r² ${fmt(erase.storeFit.r2, 4)})`))
      }
      if (lookups !== undefined) {
        parts.push(`PostgreSQL lookups: resolve a DM by username (user, 1:1 DM, subscription), one at a time, ${lookups.settings.samples} per side and size; ` +
          `store: ${lookups.store ?? 'PENDING'}`)
        parts.push(draw(['rooms', 'users', 'hand p50 ms', 'hand p99 ms', 'store p50 ms', 'store p99 ms', 'store/hand p50'],
          lookups.sizes.map((s) => [String(s.rooms), String(s.users), fmt(s.hand.p50, 3), fmt(s.hand.p99, 3),
            fmt(s.store?.p50, 3), fmt(s.store?.p99, 3), fmt(s.ratio, 3)])))
        parts.push(`p50 growth from the smallest to the largest world: hand ${fmt(lookups.handGrowth, 3)}×, store ${lookups.storeGrowth === null ? 'pending' : `${fmt(lookups.storeGrowth, 3)}×`}; ` +
          `hand lookups ${lookups.indexScansOnly ? 'all index scans' : 'NOT ALL INDEX SCANS'}`)
      }
    }
  }
  if (results.pg !== undefined && !('skipped' in results.pg) && results.pg.purge !== undefined) {
    const p = results.pg.purge
    parts.push(`PostgreSQL purge (${results.pg.database}): a DM of n messages, n read receipts and n/10 uploads erased through the plugin with its defaults ` +
      `(batch size ${p.settings.batchSize}, a file store whose removals take 1 ms); the same purge without a file store and a hand-written batched DELETE loop ` +
      '(same batch size) each on an identical copy, side by side, alternating who goes first; rows/s = rows removed ÷ time from the 200 to the purge\'s end')
    parts.push(draw(['messages', '200 after ms', 'purged s', 'blobs done s', '2nd erase', 'other DM', 'RSS before/peak MiB', 'blobs in flight',
      'rows/s purge (with files)', 'rows/s hand', 'purge/hand', 'target', ''],
    p.sizes.map((s) => [String(s.messages), fmt(s.answerMs, 0), fmt(s.purgedMs / 1000, 1), fmt(s.blobsDoneMs / 1000, 1), String(s.secondErase),
      s.otherDm === null ? '—' : `${s.otherDm.status} in ${fmt(s.otherDm.ms, 0)} ms`, `${fmt(s.rssBeforeMiB, 0)} / ${fmt(s.rssPeakMiB, 0)}`, `${s.blobsInFlightPeak} ≤ ${s.blobConcurrency}`,
      `${s.dbOnlyRowsPerS} (${s.purgeRowsPerS})`, String(s.handRowsPerS), `${fmt(s.ratio, 3)} (${s.ratios.length} pairs)`, `≥ ${PURGE_TARGET}`, verdict(s.met)])))
    parts.push(`linear fit of the purge's time against rows removed: ${p.purgeFit.msPerMillionRows} ms per million rows, r² ${fmt(p.purgeFit.r2, 4)}`)
  }
  if (results.pg !== undefined && !('skipped' in results.pg) && results.pg.kill !== undefined) {
    const k = results.pg.kill
    parts.push(`A purge across a crash: a DM of ${k.messages} messages erased through the plugin on PostgresStore (a file store over HTTP), its server SIGKILLed ` +
      `${k.killedAfterMs} ms after the ${k.answer}, a new server started on the same database`)
    parts.push(draw(['left at the kill (rows, purges)', 'purged s after the restart', 'blobs done s', 'left at the end (rows, purges, pending blobs, DM blobs kept, other blobs removed)', ''],
      [[`${k.leftAtKill.rows}, ${k.leftAtKill.purges}`, fmt(k.purgedMs / 1000, 1), fmt(k.blobsDoneMs / 1000, 1),
        Object.values(k.left).join(', '), verdict(k.met)]]))
  }
  if (results.purgeLoop !== undefined) {
    parts.push('Big DMs on the stores that run in the server\'s thread, through the plugin with its defaults: the longest the event loop was held from the request to the purge\'s end')
    parts.push(draw(['store', 'messages', 'batch size', '200 after ms', 'purged s', 'event loop held ms', 'target', ''],
      results.purgeLoop.map((r) => [r.store, String(r.messages), String(r.batchSize), fmt(r.answerMs, 0), fmt(r.purgedMs / 1000, 1), fmt(r.heldMs, 1), `≤ ${LOOP_TARGET_MS}`, verdict(r.met)])))
  }
  return parts.join('\n\n')
}

async function main (): Promise<void> {
  if (values.report) {
    console.log(render(JSON.parse(await readFile(here('./results.json'), 'utf8')) as Results, true))
    return
  }
  const only = values.only === undefined ? [...SECTIONS] : values.only.split(',').map((s) => s.trim())
  for (const name of only) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`bench: unknown section ${name} (${SECTIONS.join(', ')})`)
  const wants = (section: Section): boolean => only.includes(section)
  const log = (line: string): void => { console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`) }
  const started = performance.now()

  const results: Results = {
    generatedAt: new Date().toISOString(),
    quick: values.quick,
    machine: {
      nproc: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`,
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2)))
    },
    commit: git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--', '../lib', '../index.ts', '.') === '' ? '' : '+dirty')
  }

  if (wants('http')) results.http = await measureOverhead(PLAN.http, log)
  if (wants('memory')) results.memory = await measureMemory(PLAN.memory, log)
  if (wants('pg-http') || wants('pg-erase') || wants('pg-lookups') || wants('pg-purge') || wants('pg-kill')) {
    const url = process.env.DATABASE_URL
    if (url === undefined || url === '') {
      results.pg = { skipped: 'DATABASE_URL not set' }
    } else {
      const parsed = new URL(url)
      const pool = new pg.Pool({ connectionString: url, max: 4 })
      try {
        const database = `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`
        results.pg = {
          database,
          http: wants('pg-http') ? await measurePgHttp(pool, url, PLAN.pgHttp, log) : undefined,
          erase: wants('pg-erase') ? await measureErase(pool, storeAdapter, { ...PLAN.erase, fresh: values['fresh-pg'] }, log) : undefined,
          lookups: wants('pg-lookups') ? await measureLookups(pool, storeAdapter, { ...PLAN.lookups, fresh: values['fresh-pg'] }, log) : undefined,
          purge: wants('pg-purge') ? await measurePurge(pool, url, PLAN.purge, log) : undefined,
          kill: wants('pg-kill') ? await measureKill(pool, url, PLAN.kill, log) : undefined
        }
      } finally {
        await pool.end()
      }
    }
  }

  // Last: it loads a million documents into this process, whose RSS the PostgreSQL purge reports.
  if (wants('purge-loop')) results.purgeLoop = await measurePurgeLoop(PLAN.loop, log)

  results.loadAverageAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)))
  const out = values.out ?? here(values.quick ? './results.local.json' : './results.json')
  await writeFile(out, JSON.stringify(results, null, 2) + '\n')
  console.log(render(results, false))
  console.log(`\nwritten to ${out} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

await main()
