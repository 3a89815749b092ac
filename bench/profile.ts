/**
 * CPU profile of the server under one path's load: where a missed target's time goes.
 *
 *   node --import tsx bench/profile.ts [success|unauthorized|invalidChannel|successNoopStore|successMinimalStore] [--mode plugin|floor] [--requests N]
 *
 * V8's CPU profiler (the one `node --cpu-prof` runs) samples the server child during the
 * measured run only; the `.cpuprofile` lands in bench/profiles/ (not committed) and its top
 * frames, by self and by total time, are printed.
 */
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ServerChild } from './support/child.js'
import { formatFrames, topFrames } from './support/cpuprofile.js'
import { load } from './http/load.js'
import { PATHS } from './http/paths.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: 'plugin' },
    requests: { type: 'string', default: '40000' },
    connections: { type: 'string', default: '16' },
    top: { type: 'string', default: '25' }
  }
})
const path = PATHS.find((p) => p.key === (positionals[0] ?? 'success'))
if (path === undefined) throw new Error(`bench/profile: the path is one of ${PATHS.map((p) => p.key).join(', ')}`)
const mode = values.mode === 'floor' ? 'floor' : path.server
const requests = Number(values.requests)
const connections = Number(values.connections)

const dir = fileURLToPath(new URL('./profiles/', import.meta.url))
await mkdir(dir, { recursive: true })
const file = `${dir}${mode}-${path.key}.cpuprofile`

// Enough DMs for every request built (each connection builds one ahead), warm-up included.
const warmup = Math.min(10_000, requests)
const dms = path.erases && mode !== 'floor' ? requests + warmup + connections * 8 : 0
const server = await ServerChild.start({ mode, dms, messages: 2 })
const first = await load({ port: server.port, shape: path.shape(0), amount: warmup, connections })
await server.startProfile()
const run = await load({ port: server.port, shape: path.shape(first.built), amount: requests, connections })
await server.stopProfile(file)
await server.close()

const { bySelf, byTotal, samples } = await topFrames(file, Number(values.top))
console.log(`${mode} · ${path.label}: ${Math.round(run.rps)} req/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, statuses ${JSON.stringify(run.statuses)}`)
console.log(`profile ${file} (${samples} samples of the measured run)\n`)
console.log('by self time\n' + formatFrames(bySelf) + '\n')
console.log('by total time\n' + formatFrames(byTotal))
