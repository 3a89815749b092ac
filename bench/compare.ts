/**
 * Before/after figures for a lib/ change, side by side in one run:
 *
 *   node --import tsx bench/compare.ts --base REV [--paths success,unauthorized] [--rounds 5] [--amount 10000]
 *
 * Checks REV's index.ts and lib/ out into a temporary folder (with this checkout's bench/ and
 * node_modules), then runs the floor, the plugin as of REV and the plugin as it is here, in
 * three server processes, rotating their order round by round.
 */
import { execFileSync } from 'node:child_process'
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ServerChild } from './support/child.js'
import { median, round } from './support/stats.js'
import { table } from './support/table.js'
import { load } from './http/load.js'
import { figures, medians, type RunFigures } from './http/overhead.js'
import { PATHS } from './http/paths.js'

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    paths: { type: 'string', default: 'success,unauthorized,invalidChannel' },
    rounds: { type: 'string', default: '5' },
    amount: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '16' }
  }
})
if (values.base === undefined) throw new Error('bench/compare: --base REV is required')
const rounds = Number(values.rounds)
const amount = Number(values.amount)
const connections = Number(values.connections)
const paths = values.paths.split(',').map((key) => {
  const found = PATHS.find((p) => p.key === key)
  if (found === undefined || found.server !== 'plugin') throw new Error(`bench/compare: unknown path ${key} (a path on the memory store)`)
  return found
})

const root = fileURLToPath(new URL('..', import.meta.url))
const baseDir = await mkdtemp(join(tmpdir(), 'imdel-base-'))
const archive = execFileSync('git', ['archive', values.base, 'index.ts', 'lib', 'package.json'], { cwd: root })
execFileSync('tar', ['-x', '-C', baseDir], { input: archive })
await cp(join(root, 'bench'), join(baseDir, 'bench'), { recursive: true, filter: (src) => !src.includes('profiles') })
await symlink(join(root, 'node_modules'), join(baseDir, 'node_modules'))

const perRun = amount + connections * 4
const dms = paths.some((p) => p.erases) ? (rounds + 1) * perRun : 0
console.error(`compare: floor, plugin @ ${values.base}, plugin here; ${dms} DMs each`)
const servers = {
  floor: await ServerChild.start({ mode: 'floor', dms: 0, messages: 0 }),
  base: await ServerChild.start({ mode: 'plugin', dms, messages: 2 }, { serverFile: join(baseDir, 'bench/http/server.ts') }),
  here: await ServerChild.start({ mode: 'plugin', dms, messages: 2 })
}
type Who = keyof typeof servers
const nextDm: Record<Who, number> = { floor: 0, base: 0, here: 0 }

const rows: string[][] = []
try {
  for (const path of paths) {
    const runs: Record<Who, RunFigures[]> = { floor: [], base: [], here: [] }
    const run = async (who: Who, n: number): Promise<RunFigures> => {
      const server = servers[who]
      const before = await server.sample()
      const result = await load({ port: server.port, shape: path.shape(nextDm[who]), amount: n, connections })
      const after = await server.sample()
      if (path.erases) nextDm[who] += result.built
      const expected = who === 'floor' ? 200 : path.status
      if (result.statuses[expected] !== n) throw new Error(`compare: ${who} on ${path.key} answered ${JSON.stringify(result.statuses)}`)
      return figures(result, before, after)
    }
    const order: Who[] = ['floor', 'base', 'here']
    for (const who of order) await run(who, Math.min(amount, 5_000))
    for (let r = 0; r < rounds; r++) {
      // Rotate, so that each server goes first, second and third equally often.
      for (let i = 0; i < order.length; i++) {
        const who = order[(i + r) % order.length]
        runs[who].push(await run(who, amount))
      }
      console.error(`compare: ${path.key} round ${r + 1}/${rounds}: ` +
        order.map((who) => `${who} ${Math.round(runs[who][r].rps)} req/s ${runs[who][r].cpuUsPerRequest.toFixed(0)} µs/req`).join(', '))
    }
    const m = { floor: medians(runs.floor), base: medians(runs.base), here: medians(runs.here) }
    const ratio = (who: Who): number => round(median(runs[who].map((f, r) => f.rps / runs.floor[r].rps)), 3)
    for (const who of ['base', 'here'] as const) {
      rows.push([path.key, who === 'base' ? `before (${values.base})` : 'after (this checkout)', String(m[who].rps), String(m.floor.rps), String(ratio(who)),
        `${m[who].p50} / ${m[who].p99}`, String(m[who].cpuUsPerRequest), String(m.floor.cpuUsPerRequest), String(round(m.floor.cpuUsPerRequest / m[who].cpuUsPerRequest, 3))])
    }
  }
} finally {
  await Promise.all(Object.values(servers).map(async (server) => { await server.close() }))
  await rm(baseDir, { recursive: true, force: true })
}
console.log(table(['path', 'plugin', 'req/s', 'floor req/s', 'ratio', 'p50 / p99 ms', 'CPU µs/req', 'floor CPU µs/req', 'CPU ratio'], rows))
