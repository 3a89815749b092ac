import { ServerChild, type Sample } from '../support/child.js'
import { mib, round } from '../support/stats.js'
import { load } from './load.js'
import { PATHS, type PathSpec } from './paths.js'

export interface MemorySettings {
  /** Requests in all: half rejected (401, then 400), then half that each erase a DM. */
  requests: number
  connections: number
  messages: number
}

export interface Checkpoint {
  after: string
  requests: number
  rssMiB: number
  heapUsedMiB: number
}

export interface MemoryResult {
  settings: MemorySettings & { dmsSeeded: number }
  checkpoints: Checkpoint[]
  /** RSS after all requests (and a forced GC) minus RSS before them. */
  rssDeltaMiB: number
  /** Heap used after a forced GC: after all requests minus before them. */
  heapDeltaMiB: number
  /** Heap growth over the rejected half, where no data changes: a leak shows here. */
  rejectedHeapDeltaMiB: number
  /**
   * Heap after the erasing half minus what it should be once the erased DMs' share of the
   * seeded heap is gone (the seeded heap less its users', per DM, times the DMs erased; the
   * users stay, as in Rocket.Chat): a leak shows here.
   */
  successHeapExcessMiB: number
  /** Whether the heap stayed bounded: neither half kept more than `LEAK_SLACK_MIB`. */
  bounded: boolean
}

/** More than this kept after a forced GC counts as growth (V8's own caches, tables sized by the peak). */
export const LEAK_SLACK_MIB = 16

const path = (key: PathSpec['key']): PathSpec => PATHS.find((p) => p.key === key) as PathSpec

/**
 * RSS and heap (after a forced GC) of a fresh plugin server before and after `requests`
 * requests: first the two rejections an attacker can drive (no data changes, so the heap
 * must come back to where it was), then the success path (each request erases a DM, so the
 * heap must shrink by what those DMs took).
 */
export async function measureMemory (settings: MemorySettings, log: (line: string) => void): Promise<MemoryResult> {
  const { requests, connections, messages } = settings
  const quarter = Math.floor(requests / 4)
  const erasing = requests - 2 * quarter
  const dmsSeeded = erasing + connections * 4
  log(`memory: seeding ${dmsSeeded} DMs, then ${requests} requests`)
  const server = await ServerChild.start({ mode: 'plugin', dms: dmsSeeded, messages })
  const checkpoints: Checkpoint[] = []
  const samples: Sample[] = []
  let sent = 0
  const checkpoint = async (after: string): Promise<Sample> => {
    const sample = await server.sample(true)
    samples.push(sample)
    checkpoints.push({ after, requests: sent, rssMiB: mib(sample.rss), heapUsedMiB: mib(sample.heapUsed) })
    log(`memory: after ${after}: rss ${mib(sample.rss)} MiB, heap used ${mib(sample.heapUsed)} MiB`)
    return sample
  }
  const drive = async (key: PathSpec['key'], amount: number, expected: number): Promise<void> => {
    const result = await load({ port: server.port, shape: path(key).shape(0), amount, connections })
    if (result.statuses[expected] !== amount) throw new Error(`memory: ${key} answered ${JSON.stringify(result.statuses)}`)
    sent += amount
  }
  try {
    const start = await checkpoint('seeding')
    await drive('unauthorized', quarter, 401)
    await checkpoint(`${quarter} × 401`)
    await drive('invalidChannel', quarter, 400)
    const rejected = await checkpoint(`${quarter} × 400 invalid-channel`)
    await drive('success', erasing, 200)
    const end = await checkpoint(`${erasing} × 200 (a DM erased each)`)
    // Erases leave the users: only the DMs' share of the seeded heap goes with them.
    const perDm = (start.heapUsed - server.unseeded.usersHeapUsed) / dmsSeeded
    const expectedEnd = rejected.heapUsed - perDm * erasing
    const rejectedHeapDeltaMiB = mib(rejected.heapUsed - start.heapUsed)
    const successHeapExcessMiB = mib(end.heapUsed - expectedEnd)
    return {
      settings: { ...settings, dmsSeeded },
      checkpoints,
      rssDeltaMiB: mib(end.rss - start.rss),
      heapDeltaMiB: mib(end.heapUsed - start.heapUsed),
      rejectedHeapDeltaMiB,
      successHeapExcessMiB: round(successHeapExcessMiB, 1),
      bounded: rejectedHeapDeltaMiB <= LEAK_SLACK_MIB && successHeapExcessMiB <= LEAK_SLACK_MIB
    }
  } finally {
    await server.close()
  }
}
