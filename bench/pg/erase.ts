import { isDeepStrictEqual } from 'node:util'
import type pg from 'pg'
import type { EraseResult, RemovedCounts } from '../../index.js'
import { linearFit, median, round } from '../support/stats.js'
import type { PgStoreAdapter } from './contract.js'
import { checkLayout, handErase } from './hand-sql.js'
import { layoutOwner } from './owners.js'
import { copySchema, dropSchema, SCHEMA_PREFIX, worldSchema } from './schemas.js'
import { eraseWorld } from './worlds.js'

export interface EraseSettings {
  /** Messages in the erased DM, one size per step. */
  sizes: number[]
  /** Erases per size and side, each on a fresh copy: one count for every size, or one per size (small sizes are cheap to repeat, and noisier). */
  reps: number | number[]
  /** Remake the world schemas even when an earlier run left them. */
  fresh: boolean
}

/** The store's erase may take at most this many times the hand-written SQL's (issue 14; 1.25 in issue 4). */
export const ERASE_TARGET = 1.05

export interface EraseSize {
  messages: number
  removed: RemovedCounts
  /** Median ms of one erase, the commit included. */
  handMs: number
  storeMs: number | null
  /** Median over the repetitions of store ms ÷ hand ms, each pair on identical copies, back to back. */
  ratio: number | null
  ratios: number[]
  met: boolean | null
  handRuns: number[]
  storeRuns: number[]
}

export interface EraseBenchResult {
  settings: EraseSettings
  layout: string
  /** `PostgresStore` once wired in; null while pending (then only the hand-SQL side ran). */
  store: string | null
  sizes: EraseSize[]
  /** Least-squares fit of median ms against messages: slope per 1000 messages and r². */
  handFit: { msPer1kMessages: number, r2: number }
  storeFit: { msPer1kMessages: number, r2: number } | null
  /** Whether every measured size met the ratio target and the store's cost grew linearly (r² ≥ 0.98). */
  met: boolean | null
}

const TEMPLATE = (messages: number): string => `${SCHEMA_PREFIX}erase_${messages}`
const COPY = { hand: `${SCHEMA_PREFIX}erase_hand`, store: `${SCHEMA_PREFIX}erase_store` } as const

function check (side: string, result: EraseResult | null, expected: RemovedCounts): void {
  if (result === null || !isDeepStrictEqual(result.removed, expected) || result.uploads.length !== expected.uploads) {
    throw new Error(`pg erase: the ${side} side removed ${JSON.stringify(result?.removed)}, expected ${JSON.stringify(expected)}`)
  }
}

const fit = (points: Array<[number, number]>): { msPer1kMessages: number, r2: number } => {
  const { slope, r2 } = linearFit(points)
  return { msPer1kMessages: round(slope * 1000, 3), r2: round(r2, 4) }
}

/**
 * For each size: a world schema made once (by the store when wired in, else by the reference
 * layout), then per repetition two identical copies of it; the store erases the DM in one, the
 * hand-written SQL in the other, alternating who goes first. Both must remove the same counts.
 */
export async function measureErase (pool: pg.Pool, adapter: PgStoreAdapter | null, settings: EraseSettings, log: (line: string) => void): Promise<EraseBenchResult> {
  const owner = layoutOwner(adapter)
  const sizes: EraseSize[] = []
  for (const [index, messages] of settings.sizes.entries()) {
    const reps = Array.isArray(settings.reps) ? settings.reps[index] : settings.reps
    const world = eraseWorld(messages)
    const template = TEMPLATE(messages)
    const made = await worldSchema(pool, owner, template, world.key, world.slices, settings.fresh, log)
    if (!made.reused) log(`pg erase: ${template} made in ${made.seconds.toFixed(1)} s`)
    await checkLayout(pool, template)
    const handRuns: number[] = []
    const storeRuns: number[] = []
    const ratios: number[] = []
    for (let rep = 0; rep < reps; rep++) {
      await copySchema(pool, owner, template, COPY.hand)
      if (adapter !== null) await copySchema(pool, owner, template, COPY.store)
      // Dirty pages from the copies written out now, not during a measured erase.
      await pool.query('CHECKPOINT')
      const opened = adapter === null ? null : await adapter.open(pool, COPY.store)
      try {
        // Each copy is a new schema: its tables not yet opened by any connection, the store's
        // statements and functions not yet planned there. A server pays that once per connection,
        // not per erase: each side first erases a small background DM, untimed.
        await handErase(pool, COPY.hand, world.warmupRoomId)
        await opened?.store.eraseRoom(world.warmupRoomId)
        const hand = async (): Promise<number> => {
          const started = performance.now()
          const result = await handErase(pool, COPY.hand, world.roomId)
          const ms = performance.now() - started
          check('hand-SQL', result, world.expected)
          return ms
        }
        const store = async (): Promise<number> => {
          const started = performance.now()
          const result = await opened?.store.eraseRoom(world.roomId) ?? null
          const ms = performance.now() - started
          check('store', result, world.expected)
          return ms
        }
        if (opened === null) {
          handRuns.push(await hand())
        } else if (rep % 2 === 0) {
          handRuns.push(await hand())
          storeRuns.push(await store())
        } else {
          storeRuns.push(await store())
          handRuns.push(await hand())
        }
        if (opened !== null) ratios.push(storeRuns[rep] / handRuns[rep])
      } finally {
        await opened?.close()
      }
    }
    const storeMs = storeRuns.length === 0 ? null : round(median(storeRuns), 2)
    const ratio = ratios.length === 0 ? null : round(median(ratios), 3)
    sizes.push({
      messages,
      removed: world.expected,
      handMs: round(median(handRuns), 2),
      storeMs,
      ratio,
      ratios: ratios.map((r) => round(r, 3)),
      met: ratio === null ? null : ratio <= ERASE_TARGET,
      handRuns: handRuns.map((ms) => round(ms, 2)),
      storeRuns: storeRuns.map((ms) => round(ms, 2))
    })
    log(`pg erase: ${messages} messages: hand ${median(handRuns).toFixed(1)} ms` +
      (storeMs === null ? ', store pending' : `, store ${storeMs.toFixed(1)} ms, ratio ${String(ratio)}`))
  }
  for (const schema of Object.values(COPY)) await dropSchema(pool, schema)
  const storeFit = adapter === null ? null : fit(sizes.map((s) => [s.messages, s.storeMs as number]))
  return {
    settings,
    layout: owner.name,
    store: adapter?.name ?? null,
    sizes,
    handFit: fit(sizes.map((s) => [s.messages, s.handMs])),
    storeFit,
    met: storeFit === null ? null : sizes.every((s) => s.met === true) && (sizes.length < 3 || storeFit.r2 >= 0.98)
  }
}
