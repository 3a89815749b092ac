/**
 * The plugin on PostgresStore against the route a user would write by hand (bench/pg/http-server.ts),
 * over HTTP, each on an identical copy of the same world: req/s, latency, the server's and
 * PostgreSQL's CPU per request, statements per request. A third server runs the plugin with
 * `preparedStatements: false` (what running behind PgBouncer < 1.21 costs).
 */
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { hashLoginToken } from '../../index.js'
import { ADMIN } from '../http/dataset.js'
import { load } from '../http/load.js'
import { PATHS, type PathSpec } from '../http/paths.js'
import { ServerChild, type Sample } from '../support/child.js'
import { median, ratioVerdict, round } from '../support/stats.js'
import { q } from './hand-sql.js'
import { storeOwner } from './owners.js'
import { analyze, dropSchema, freshSchema, SCHEMA_PREFIX } from './schemas.js'
import { storeAdapter } from './store-adapter.js'

export interface PgHttpSettings {
  rounds: number
  /** Requests per run on the success path (each erases a DM: the copies hold enough for every run). */
  amount: number
  /** Requests per run on the 401 and 400 paths (nothing used up; more, so that a run lasts long enough to measure). */
  amountRejected: number
  warmup: number
  connections: number
  /** Each server's pg pool. */
  poolSize: number
}

/** plugin ÷ hand req/s, at least (issue 14). */
export const PG_HTTP_TARGETS: Partial<Record<PathSpec['key'], number>> = { success: 1, unauthorized: 0.95, invalidChannel: 0.95 }

const SIDES = [
  { key: 'hand', mode: 'pg-hand', preparedStatements: false },
  { key: 'plugin', mode: 'pg-plugin', preparedStatements: true },
  { key: 'pluginUnprepared', mode: 'pg-plugin', preparedStatements: false }
] as const
type SideKey = typeof SIDES[number]['key']

export interface PgSideFigures {
  rps: number
  p50: number
  p99: number
  /** The server process's CPU time per request (user + system), µs. */
  serverCpuUs: number
  /** The CPU time of the server's PostgreSQL backends per request (user + system, from /proc), µs. */
  pgCpuUs: number
  statementsPerRequest: number
}

export interface PgHttpPath {
  path: PathSpec['key']
  label: string
  status: number
  sides: Record<SideKey, PgSideFigures>
  /** Median over rounds of plugin ÷ hand req/s, each round's runs back to back. */
  ratio: number
  ratios: number[]
  /** The same for the plugin without prepared statements. */
  unpreparedRatio: number
  unpreparedRatios: number[]
  target: number | null
  met: boolean | null
}

export interface PgHttpResult {
  settings: PgHttpSettings & { dmsPerCopy: number, world: string, handLookups: string }
  paths: PgHttpPath[]
}

const MESSAGES = 20
/** What the hand route looks up before the erase: what the contract's resolution needs (issue 11), three queries at once. */
const HAND_LOOKUPS = 'user+room+subscription'
const RECEIPTS = 5
const schemaOf = (side: SideKey): string => `${SCHEMA_PREFIX}http_${side.toLowerCase()}`

/** Fills a schema made by the store's migrate(): the admin, and `dms` DMs of theirs, each with 20 messages, 2 subscriptions, 1 upload, 5 read receipts. */
async function fill (pool: pg.Pool, schema: string, dms: number): Promise<void> {
  const t = (name: string): string => q(schema, name)
  const ts = '2026-01-01T00:00:00.000Z'
  const hashed = hashLoginToken(ADMIN.token)
  await pool.query(
    `INSERT INTO ${t('users')} (_id, username, doc) VALUES ($1, $1, jsonb_build_object('_id', $1::text, 'username', $1::text, 'roles', '["admin","user"]'::jsonb,
       'active', true, 'services', jsonb_build_object('resume', jsonb_build_object('loginTokens', jsonb_build_array(jsonb_build_object('hashedToken', $2::text, 'when', $3::text))))))`,
    [ADMIN._id, hashed, ts])
  await pool.query(`INSERT INTO ${t('login_tokens')} (user_id, hashed_token) VALUES ($1, $2)`, [ADMIN._id, hashed])
  const series = `generate_series(0, ${dms - 1}) AS i`
  const rid = `'${ADMIN._id}u' || i`
  await pool.query(`INSERT INTO ${t('users')} (_id, username, doc) SELECT 'u' || i, 'user' || i,
    jsonb_build_object('_id', 'u' || i, 'username', 'user' || i, 'roles', '["user"]'::jsonb, 'active', true) FROM ${series}`)
  await pool.query(`INSERT INTO ${t('rooms')} (_id, t, member_key, doc) SELECT ${rid}, 'd', ARRAY[$1, 'u' || i],
    jsonb_build_object('_id', ${rid}, 't', 'd', 'uids', jsonb_build_array($1::text, 'u' || i), 'usernames', jsonb_build_array($1::text, 'user' || i), 'msgs', ${MESSAGES}, 'ts', $2::text)
    FROM ${series}`, [ADMIN._id, ts])
  await pool.query(`INSERT INTO ${t('subscriptions')} (_id, rid, user_id, doc) SELECT ${rid} || '-s' || s, ${rid}, CASE s WHEN 0 THEN $1 ELSE 'u' || i END,
    jsonb_build_object('_id', ${rid} || '-s' || s, 'rid', ${rid}, 't', 'd', 'open', true,
      'u', CASE s WHEN 0 THEN jsonb_build_object('_id', $1::text, 'username', $1::text) ELSE jsonb_build_object('_id', 'u' || i, 'username', 'user' || i) END)
    FROM ${series}, generate_series(0, 1) AS s`, [ADMIN._id])
  await pool.query(`INSERT INTO ${t('messages')} (_id, rid, doc) SELECT ${rid} || '-m' || m, ${rid},
    jsonb_build_object('_id', ${rid} || '-m' || m, 'rid', ${rid}, 'msg', 'message ' || m, 'ts', $1::text, 'u', jsonb_build_object('_id', 'u' || i, 'username', 'user' || i))
    FROM ${series}, generate_series(0, ${MESSAGES - 1}) AS m`, [ts])
  await pool.query(`INSERT INTO ${t('uploads')} (_id, rid, doc) SELECT ${rid} || '-f0', ${rid},
    jsonb_build_object('_id', ${rid} || '-f0', 'rid', ${rid}, 'name', 'f.png', 'size', 1) FROM ${series}`)
  await pool.query(`INSERT INTO ${t('read_receipts')} (_id, rid, doc) SELECT ${rid} || '-r' || r, ${rid},
    jsonb_build_object('_id', ${rid} || '-r' || r, 'rid', ${rid}, 'messageId', ${rid} || '-m' || r, 'userId', 'u' || i, 'ts', $1::text)
    FROM ${series}, generate_series(0, ${RECEIPTS - 1}) AS r`, [ts])
}

const TICK_US = 1e6 / Number((() => { try { return execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() } catch { return '100' } })())

/** CPU time (user + system, in clock ticks) of each PostgreSQL backend with this application_name. */
async function backendTicks (pool: pg.Pool, applicationName: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName])
  const ticks = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      // Fields after the command's closing parenthesis: state is the 3rd field, utime the 14th, stime the 15th.
      const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
      ticks.set(pid, Number(fields[11]) + Number(fields[12]))
    } catch {} // gone in between: its time is lost, a connection the pool closed
  }
  return ticks
}

const tickDelta = (before: Map<number, number>, after: Map<number, number>): number =>
  [...after].reduce((sum, [pid, ticks]) => sum + ticks - (before.get(pid) ?? 0), 0)

interface Server { side: typeof SIDES[number], child: ServerChild, applicationName: string, nextDm: number }

export async function measurePgHttp (pool: pg.Pool, url: string, settings: PgHttpSettings, log: (line: string) => void): Promise<PgHttpResult> {
  if (storeAdapter === null) throw new Error('pg-http: PostgresStore is not wired in')
  const { rounds, amount, amountRejected, warmup, connections, poolSize } = settings
  const perRun = (n: number): number => n + connections * 4
  const dmsPerCopy = perRun(warmup) + rounds * perRun(amount) + 10
  const owner = storeOwner(storeAdapter)
  for (const side of SIDES) {
    const started = performance.now()
    await freshSchema(pool, owner, schemaOf(side.key))
    await fill(pool, schemaOf(side.key), dmsPerCopy)
    await analyze(pool, schemaOf(side.key))
    log(`pg-http: ${schemaOf(side.key)} filled with ${dmsPerCopy} DMs in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  await pool.query('CHECKPOINT')

  const serverFile = fileURLToPath(new URL('./http-server.ts', import.meta.url))
  const start = async (side: typeof SIDES[number]): Promise<Server> => {
    const applicationName = `imdel-bench-${side.key}-${process.pid}`
    const child = await ServerChild.start({
      mode: side.mode,
      dms: 0,
      messages: 0,
      pg: { url, schema: schemaOf(side.key), poolSize, applicationName, preparedStatements: side.preparedStatements }
    }, { serverFile })
    return { side, child, applicationName, nextDm: 0 }
  }
  const servers: Server[] = []
  try {
    for (const side of SIDES) servers.push(await start(side))

    const run = async (server: Server, path: PathSpec, n: number): Promise<PgSideFigures> => {
      if (path.erases && server.nextDm + perRun(n) > dmsPerCopy) throw new Error('pg-http: ran out of DMs')
      const [sample, ticks] = [await server.child.sample(), await backendTicks(pool, server.applicationName)]
      const result = await load({ port: server.child.port, shape: path.shape(server.nextDm), amount: n, connections })
      const [after, ticksAfter] = [await server.child.sample(), await backendTicks(pool, server.applicationName)]
      if (path.erases) server.nextDm += result.built
      const wrong = Object.keys(result.statuses).filter((code) => Number(code) !== path.status)
      if (wrong.length > 0 || result.errors > 0 || result.timeouts > 0 || result.requests !== n) {
        throw new Error(`pg-http: ${server.side.key} on ${path.key} answered ${JSON.stringify(result.statuses)} (${result.errors} errors), expected ${n} × ${path.status}`)
      }
      return figures(result, sample, after, tickDelta(ticks, ticksAfter))
    }

    const paths: PgHttpPath[] = []
    for (const path of PATHS.filter((p) => p.key in PG_HTTP_TARGETS)) {
      for (const server of servers) await run(server, path, warmup)
      const runs: Record<SideKey, PgSideFigures[]> = { hand: [], plugin: [], pluginUnprepared: [] }
      const ratios: number[] = []
      const unpreparedRatios: number[] = []
      for (let r = 0; r < rounds; r++) {
        // Rotate who goes first, so that drift in the machine's load favours nobody.
        const order = servers.map((_, i) => servers[(i + r) % servers.length])
        const round: Partial<Record<SideKey, PgSideFigures>> = {}
        for (const server of order) round[server.side.key] = await run(server, path, path.erases ? amount : amountRejected)
        const { hand, plugin, pluginUnprepared } = round as Record<SideKey, PgSideFigures>
        for (const key of Object.keys(runs) as SideKey[]) runs[key].push((round as Record<SideKey, PgSideFigures>)[key])
        ratios.push(plugin.rps / hand.rps)
        unpreparedRatios.push(pluginUnprepared.rps / hand.rps)
        log(`pg-http: ${path.key} round ${r + 1}/${rounds}: hand ${Math.round(hand.rps)}, plugin ${Math.round(plugin.rps)}, unprepared ${Math.round(pluginUnprepared.rps)} req/s; ` +
          `pg CPU µs/req ${hand.pgCpuUs.toFixed(0)} / ${plugin.pgCpuUs.toFixed(0)} / ${pluginUnprepared.pgCpuUs.toFixed(0)}`)
      }
      const unprepared = ratioVerdict(unpreparedRatios, null)
      paths.push({
        path: path.key,
        label: path.label,
        status: path.status,
        sides: { hand: medians(runs.hand), plugin: medians(runs.plugin), pluginUnprepared: medians(runs.pluginUnprepared) },
        ...ratioVerdict(ratios, PG_HTTP_TARGETS[path.key] ?? null),
        unpreparedRatio: unprepared.ratio,
        unpreparedRatios: unprepared.ratios
      })
    }
    return {
      settings: { ...settings, dmsPerCopy, world: `${MESSAGES} messages, 2 subscriptions, 1 upload, ${RECEIPTS} read receipts per DM`, handLookups: HAND_LOOKUPS },
      paths
    }
  } finally {
    await Promise.all(servers.map(async (server) => await server.child.close()))
    for (const side of SIDES) await dropSchema(pool, schemaOf(side.key))
  }
}

function figures (run: Awaited<ReturnType<typeof load>>, before: Sample, after: Sample, pgTicks: number): PgSideFigures {
  return {
    rps: run.rps,
    p50: run.p50,
    p99: run.p99,
    serverCpuUs: (after.cpuMs - before.cpuMs) * 1000 / run.requests,
    pgCpuUs: pgTicks * TICK_US / run.requests,
    // The sample messages themselves send nothing to PostgreSQL: every statement counted is a request's.
    statementsPerRequest: ((after.statements ?? 0) - (before.statements ?? 0)) / run.requests
  }
}

function medians (runs: readonly PgSideFigures[]): PgSideFigures {
  const m = (pick: (f: PgSideFigures) => number, digits: number): number => round(median(runs.map(pick)), digits)
  return {
    rps: m((f) => f.rps, 0),
    p50: m((f) => f.p50, 2),
    p99: m((f) => f.p99, 2),
    serverCpuUs: m((f) => f.serverCpuUs, 0),
    pgCpuUs: m((f) => f.pgCpuUs, 0),
    statementsPerRequest: m((f) => f.statementsPerRequest, 2)
  }
}
