import autocannon from 'autocannon'
import { percentile } from '../support/stats.js'

/** One kind of request, its body varied per request. */
export interface RequestShape {
  path: string
  headers: Record<string, string>
  /** The body of the n-th request built in this run (n counts from 0 per run). */
  body: (n: number) => string
}

export interface LoadOptions {
  port: number
  shape: RequestShape
  /** Requests to send: a fixed count, so a run never erases more DMs than were seeded. */
  amount: number
  connections: number
}

export interface LoadResult {
  requests: number
  seconds: number
  /** Requests per second over the whole run. */
  rps: number
  /** Latency percentiles in ms, over every response (autocannon's own histogram keeps 2xx only, in whole ms). */
  p50: number
  p99: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  /** How many bodies were built: an upper bound of the DMs a success run used up. */
  built: number
  /** CPU the load generator (this process) used, as a share of one core. */
  loaderCpu: number
}

/** Drives one run with autocannon's programmatic API and measures every response's latency. */
export async function load ({ port, shape, amount, connections }: LoadOptions): Promise<LoadResult> {
  let built = 0
  // Every connection builds one request ahead; a little slack for the few rebuilt after an error.
  const latencies = new Float64Array(amount + connections * 4)
  let recorded = 0
  let lastResponse = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: `http://127.0.0.1:${port}`,
      connections,
      pipelining: 1,
      amount,
      timeout: 30,
      // autocannon notices `amount` is reached only at its next sample tick: tick often, time the run ourselves.
      sampleInt: 50,
      requests: [{
        method: 'POST',
        path: shape.path,
        headers: shape.headers,
        setupRequest: (request) => ({ ...request, body: shape.body(built++) })
      }]
    }, (err, result) => { if (err !== null && err !== undefined) reject(err); else resolve(result) })
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      lastResponse = performance.now()
      if (recorded < latencies.length) latencies[recorded++] = responseTime
    })
  })
  const cpu = process.cpuUsage(cpuBefore)
  // From the first request to the last response: not to autocannon's stop, up to a tick later.
  const seconds = (lastResponse - started) / 1000
  const sorted = latencies.subarray(0, recorded).sort()
  const statuses: Record<string, number> = {}
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stats.count ?? 0
  return {
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    built,
    loaderCpu: (cpu.user + cpu.system) / 1000 / (performance.now() - started)
  }
}
