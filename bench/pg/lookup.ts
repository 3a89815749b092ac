import type pg from 'pg'
import type { ImDeleteStore, Room, Subscription } from '../../index.js'
import { directRoomKey } from '../../lib/store.js'
import { percentile, round } from '../support/stats.js'
import type { PgStoreAdapter } from './contract.js'
import { checkLayout, explainHandResolve, handResolve } from './hand-sql.js'
import { layoutOwner } from './owners.js'
import { rowCounts, SCHEMA_PREFIX, worldSchema } from './schemas.js'
import { DMS_PER_USER, lookupWorld, type LookupWorld } from './worlds.js'

export interface LookupSettings {
  /** Rooms in the world, one world per size (the largest is the one that matters: 1 million). */
  sizes: number[]
  /** Resolves measured per side and size, after as many unmeasured ones. */
  samples: number
  fresh: boolean
}

export interface LookupFigures { p50: number, p99: number, meanMs: number }

export interface LookupSize {
  rooms: number
  users: number
  subscriptions: number
  hand: LookupFigures
  store: LookupFigures | null
  /** store p50 ÷ hand p50. */
  ratio: number | null
}

export interface LookupBenchResult {
  settings: LookupSettings
  layout: string
  store: string | null
  sizes: LookupSize[]
  /** p50 at the largest size ÷ p50 at the smallest: about 1 when every lookup is an index scan. */
  handGrowth: number
  storeGrowth: number | null
  /** The hand lookups' plans at the largest size. */
  plans: Record<string, string>
  indexScansOnly: boolean
}

type Resolved = { room: Room, subscription: Subscription | null } | null

/** What DirectMessageEraser does to resolve a DM by username, through a store. */
async function storeResolve (store: ImDeleteStore, callerId: string, username: string): Promise<Resolved> {
  const other = await store.findUser(username)
  if (other === null) return null
  const room = await store.findDirectRoom(directRoomKey([callerId, other._id]))
  if (room === null) return null
  return { room, subscription: await store.findSubscription(room._id, callerId) }
}

/** A small deterministic generator: the same pairs in every run. */
function mulberry32 (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Probe { callerId: string, otherId: string, username: string, roomId: string }

function probes (world: LookupWorld, count: number): Probe[] {
  const random = mulberry32(4)
  return Array.from({ length: count }, () => {
    const i = Math.floor(random() * world.users)
    const j = (i + 1 + Math.floor(random() * DMS_PER_USER)) % world.users
    const callerId = world.userId(i)
    const otherId = world.userId(j)
    return { callerId, otherId, username: world.username(j), roomId: [callerId, otherId].sort().join('') }
  })
}

const figures = (ms: number[]): LookupFigures => {
  const sorted = Float64Array.from(ms).sort()
  return { p50: round(percentile(sorted, 0.5), 3), p99: round(percentile(sorted, 0.99), 3), meanMs: round(ms.reduce((s, x) => s + x, 0) / ms.length, 3) }
}

/**
 * Resolving a DM by username (user by username, the 1:1 DM by its members, the caller's
 * subscription), one resolve at a time, on worlds of growing size; the store and the hand
 * SQL take turns in blocks on the same schema (lookups change nothing).
 */
export async function measureLookups (pool: pg.Pool, adapter: PgStoreAdapter | null, settings: LookupSettings, log: (line: string) => void): Promise<LookupBenchResult> {
  const owner = layoutOwner(adapter)
  const sizes: LookupSize[] = []
  let plans: Record<string, string> = {}
  for (const rooms of settings.sizes) {
    const world = lookupWorld(rooms)
    const schema = `${SCHEMA_PREFIX}lookup_${world.rooms}`
    const made = await worldSchema(pool, owner, schema, world.key, world.slices(), settings.fresh, log)
    if (!made.reused) log(`pg lookups: ${schema} made in ${made.seconds.toFixed(1)} s`)
    await checkLayout(pool, schema)
    const counts = await rowCounts(pool, schema)
    const opened = adapter === null ? null : await adapter.open(pool, schema)
    try {
      const all = probes(world, 2 * settings.samples)
      const hand: number[] = []
      const store: number[] = []
      const BLOCK = 50
      for (let start = 0; start < all.length; start += BLOCK) {
        const block = all.slice(start, start + BLOCK)
        const measured = start >= settings.samples
        const sides = [['hand', hand], ['store', store]] as const
        for (const [side, times] of (start / BLOCK) % 2 === 0 ? sides : [...sides].reverse()) {
          if (side === 'store' && opened === null) continue
          for (const probe of block) {
            const started = performance.now()
            const found = side === 'hand'
              ? await handResolve(pool, schema, probe.callerId, probe.username)
              : await storeResolve((opened as NonNullable<typeof opened>).store, probe.callerId, probe.username)
            const ms = performance.now() - started
            if (found?.room._id !== probe.roomId || found.subscription?.u._id !== probe.callerId) {
              throw new Error(`pg lookups: the ${side} side resolved ${probe.username} for ${probe.callerId} to ${JSON.stringify(found?.room._id)}`)
            }
            if (measured) times.push(ms)
          }
        }
      }
      const handFigures = figures(hand)
      const storeFigures = store.length === 0 ? null : figures(store)
      sizes.push({
        rooms: counts.rooms,
        users: counts.users,
        subscriptions: counts.subscriptions,
        hand: handFigures,
        store: storeFigures,
        ratio: storeFigures === null ? null : round(storeFigures.p50 / handFigures.p50, 3)
      })
      log(`pg lookups: ${counts.rooms} rooms: hand p50 ${handFigures.p50} ms p99 ${handFigures.p99} ms` +
        (storeFigures === null ? ', store pending' : `, store p50 ${storeFigures.p50} ms p99 ${storeFigures.p99} ms`))
      const [probe] = all
      plans = await explainHandResolve(pool, schema, probe.callerId, probe.otherId, probe.username, probe.roomId)
    } finally {
      await opened?.close()
    }
  }
  const first = sizes[0]
  const last = sizes[sizes.length - 1]
  return {
    settings,
    layout: owner.name,
    store: adapter?.name ?? null,
    sizes,
    handGrowth: round(last.hand.p50 / first.hand.p50, 3),
    storeGrowth: last.store === null || first.store === null ? null : round(last.store.p50 / first.store.p50, 3),
    plans,
    indexScansOnly: Object.values(plans).every((plan) => /Index (Only )?Scan/.test(plan) && !/Seq Scan/.test(plan))
  }
}
