import type { Sample } from './child.js'

/** This process's figures now: what a server child answers a `sample` message with. */
export function processSample (): Sample {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    cpuMs: (cpu.user + cpu.system) / 1000,
    systemMs: cpu.system / 1000,
    atMs: performance.now()
  }
}
