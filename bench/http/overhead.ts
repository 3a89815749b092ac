import { ServerChild, type Sample } from '../support/child.js'
import { median, ratioVerdict, round } from '../support/stats.js'
import { load, type LoadResult } from './load.js'
import { PATHS, type PathSpec } from './paths.js'

export interface OverheadSettings {
  /** Measured rounds per path; each round runs the floor and the plugin back to back. */
  rounds: number
  /** Requests per run. */
  amount: number
  /** Requests of the unmeasured first run of each server on each path. */
  warmup: number
  connections: number
  /** Messages per seeded DM. */
  messages: number
}

/** The plugin's throughput as a share of the floor's, at least (issue 4). */
export const TARGETS: Partial<Record<PathSpec['key'], number>> = { success: 0.85, unauthorized: 0.9 }

export interface RunFigures {
  rps: number
  p50: number
  p99: number
  /** The server's CPU use during the run, in cores (1 = one core busy all the time). */
  serverCpu: number
  /** The server's CPU time per request, in µs: its cost, whoever the bottleneck was. */
  cpuUsPerRequest: number
  /** The load generator's CPU use, in cores. */
  loaderCpu: number
}

export interface PathResult {
  path: PathSpec['key']
  label: string
  status: number
  /** Medians over the rounds. */
  floor: RunFigures
  plugin: RunFigures
  /** Median over the rounds of plugin req/s ÷ floor req/s, each round's pair measured back to back. */
  ratio: number
  /** The pairs' ratios, round by round. */
  ratios: number[]
  /** Floor CPU µs per request ÷ plugin CPU µs per request (medians): the throughput ratio if the server alone were the bottleneck. */
  cpuRatio: number
  target: number | null
  met: boolean | null
}

export interface OverheadResult {
  settings: OverheadSettings & { dmsSeeded: number, rateLimit: false, logger: false }
  seedSeconds: number
  paths: PathResult[]
}

export const figures = (run: LoadResult, before: Sample, after: Sample): RunFigures => ({
  rps: run.rps,
  p50: run.p50,
  p99: run.p99,
  serverCpu: (after.cpuMs - before.cpuMs) / (after.atMs - before.atMs),
  cpuUsPerRequest: (after.cpuMs - before.cpuMs) * 1000 / run.requests,
  loaderCpu: run.loaderCpu
})

export const medians = (runs: readonly RunFigures[]): RunFigures => ({
  rps: round(median(runs.map((r) => r.rps)), 0),
  p50: round(median(runs.map((r) => r.p50)), 3),
  p99: round(median(runs.map((r) => r.p99)), 3),
  serverCpu: round(median(runs.map((r) => r.serverCpu)), 2),
  cpuUsPerRequest: round(median(runs.map((r) => r.cpuUsPerRequest)), 1),
  loaderCpu: round(median(runs.map((r) => r.loaderCpu)), 2)
})

/**
 * The plugin (memory store, rate limiting off) against the floor, path by path: a warm-up
 * run of each, then rounds that alternate which of the two goes first, in two server
 * processes that stay up throughout, driven from this process.
 */
export async function measureOverhead (settings: OverheadSettings, log: (line: string) => void): Promise<OverheadResult> {
  const { rounds, amount, warmup, connections, messages } = settings
  // Each connection builds one request ahead of what it sends: a run uses up at most amount + connections DMs.
  const perRun = (n: number): number => n + connections * 4
  const dmsSeeded = perRun(warmup) + rounds * perRun(amount)
  log(`http: seeding ${dmsSeeded} DMs in the plugin's memory store, starting the floor`)
  const [plugin, floor, noop, minimal] = [
    await ServerChild.start({ mode: 'plugin', dms: dmsSeeded, messages }),
    await ServerChild.start({ mode: 'floor', dms: 0, messages: 0 }),
    await ServerChild.start({ mode: 'plugin-noop-store', dms: 0, messages: 0 }),
    await ServerChild.start({ mode: 'plugin-minimal-store', dms: dmsSeeded, messages })
  ]
  const servers = { plugin, 'plugin-noop-store': noop, 'plugin-minimal-store': minimal }
  const pluginFor = (path: PathSpec): ServerChild => servers[path.server]
  // The next DM each seeded server has not erased yet.
  const nextDm = new Map<ServerChild, number>([[plugin, 0], [minimal, 0]])
  const run = async (server: ServerChild, path: PathSpec, n: number, expected: number): Promise<RunFigures> => {
    const offset = nextDm.get(server) ?? 0
    const erases = path.erases && nextDm.has(server)
    if (erases && offset + perRun(n) > dmsSeeded) throw new Error('http: ran out of seeded DMs')
    const before = await server.sample()
    const result = await load({ port: server.port, shape: path.shape(offset), amount: n, connections })
    const after = await server.sample()
    if (erases) nextDm.set(server, offset + result.built)
    const wrong = Object.entries(result.statuses).filter(([code]) => Number(code) !== expected)
    if (wrong.length > 0 || result.errors > 0 || result.timeouts > 0 || result.requests !== n) {
      throw new Error(`http: ${server.config.mode} on ${path.key} answered ${JSON.stringify(result.statuses)} ` +
        `(${result.errors} errors, ${result.timeouts} timeouts), expected ${n} × ${expected}`)
    }
    return figures(result, before, after)
  }

  const paths: PathResult[] = []
  try {
    for (const path of PATHS) {
      await run(floor, path, warmup, 200)
      await run(pluginFor(path), path, warmup, path.status)
      const floorRuns: RunFigures[] = []
      const pluginRuns: RunFigures[] = []
      const ratios: number[] = []
      for (let r = 0; r < rounds; r++) {
        // Alternate who goes first, so that drift in the machine's load favours neither.
        const order = r % 2 === 0 ? ['floor', 'plugin'] as const : ['plugin', 'floor'] as const
        const pair: Partial<Record<'floor' | 'plugin', RunFigures>> = {}
        for (const who of order) {
          pair[who] = who === 'floor' ? await run(floor, path, amount, 200) : await run(pluginFor(path), path, amount, path.status)
        }
        const { floor: f, plugin: p } = pair as Record<'floor' | 'plugin', RunFigures>
        floorRuns.push(f)
        pluginRuns.push(p)
        ratios.push(p.rps / f.rps)
        log(`http: ${path.key} round ${r + 1}/${rounds}: floor ${Math.round(f.rps)} req/s, plugin ${Math.round(p.rps)} req/s, ratio ${(p.rps / f.rps).toFixed(3)}`)
      }
      paths.push({
        path: path.key,
        label: path.label,
        status: path.status,
        floor: medians(floorRuns),
        plugin: medians(pluginRuns),
        ...ratioVerdict(ratios, TARGETS[path.key] ?? null),
        cpuRatio: round(median(floorRuns.map((r) => r.cpuUsPerRequest)) / median(pluginRuns.map((r) => r.cpuUsPerRequest)), 3)
      })
    }
  } finally {
    await Promise.all([plugin.close(), floor.close(), noop.close(), minimal.close()])
  }
  return {
    settings: { ...settings, dmsSeeded, rateLimit: false, logger: false },
    seedSeconds: round(plugin.seedMs / 1000, 1),
    paths
  }
}
