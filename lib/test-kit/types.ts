import type { ImDeleteStore } from '../store.js'
import type { Dataset, Message, ReadReceipt, Room, Subscription, Upload, User } from '../types.js'

/** Kinds of rows the kit asks about. */
export type KitKind = 'user' | 'room' | 'subscription' | 'message' | 'upload' | 'readReceipt'

/** A document of the kit's world, as `idOf` is handed it. */
export type KitDocument = User | Room | Subscription | Message | Upload | ReadReceipt

/** One case's store over its own, new, empty storage (a fresh schema / database / map). */
export interface KitTarget<S extends ImDeleteStore = ImDeleteStore> {
  store: S
  /**
   * Loads the kit's world (Rocket.Chat-shaped documents with the kit's ids) into YOUR tables,
   * with your own loader. Rooms of a type `supports.roomTypes` leaves out come without them.
   */
  load (world: Dataset): Promise<void>
  /**
   * Your id for a kit id (default: the same id). Stable within the case; asked for ids not in the
   * world too. `doc` is the world's document of that id when there is one: a row keyed by its parts
   * (a membership by room and user, a read mark by message and user) builds its id from theirs.
   */
  idOf? (kind: KitKind, kitId: string, doc?: KitDocument): string
  /** The ids (yours) of every row of that kind now stored: the kit's view of "what changed". */
  ids (kind: Exclude<KitKind, 'user'>): Promise<string[]>
  /**
   * Arms a fault for the NEXT eraseRoom (or purge step) only: it must reject right after its
   * `afterWrites`-th write (1-based: a DELETE statement on SQL, an entry removed from an in-process map) has been applied,
   * with a plain Error. The kit calls it with 1, 2, 3, … until `faultFired()` says false.
   */
  failNextErase (afterWrites: number): void
  /** After an armed erase settled: did the fault fire? (false when the erase had fewer writes). Disarms. */
  faultFired (): boolean
  /** Writes one message (kit ids: its id, its room, its author) through your own storage, as your chat server would. Used to race an erase. */
  writeMessage (message: { _id: string, rid: string, u: { _id: string } }): Promise<void>
  /**
   * Makes a login token the user holds (kit ids; the token itself, not its hash) no longer count,
   * in your own terms, as your server does when a session expires or is revoked: its expiry set in
   * the past, a revocation mark, the token removed. Without it, the case of a token that no
   * longer counts is not applicable (`supports.tokenExpiry`).
   */
  expireToken? (userId: string, token: string): Promise<void>
  teardown? (): Promise<void>
}

export interface KitSupports {
  /** Room types the schema models; default ['d', 'c', 'p', 'l']. A store without livechat says ['d', 'c', 'p']. */
  roomTypes?: string[]
  /** true when the store has import()/dump() with full document round trip (your ids are the kit's): lookups and erases are compared whole, dumps too, and the import cases run. */
  documents?: boolean
  /** true when the store implements findUserByLoginToken (default: whether the method exists). */
  loginTokens?: boolean
  /** false when your schema has no federated rooms: the world then has no federated DM (default true). */
  federation?: boolean
  /** false when every account holds a role: the world's users without roles then hold `['user']` (default true). */
  rolelessUsers?: boolean
  /** true when a login token can stop counting (expiry, revocation), through the target's `expireToken` (default: whether it has one). */
  tokenExpiry?: boolean
}

export interface KitOptions<S extends ImDeleteStore = ImDeleteStore> {
  name: string
  create: () => Promise<KitTarget<S>>
  /** What the store models (abstract-level's manifest): cases that need more are reported as not applicable, by name — never silently skipped. */
  supports?: KitSupports
  /**
   * How many times each race case runs, each time on a fresh target (default 3). A race a store
   * loses only sometimes is caught more surely by more rounds; on one connection (PGlite) there is no race.
   */
  raceRounds?: number
  /** Run only the cases whose titles are listed (while working on one); default all. */
  only?: readonly string[]
}

/** What `storeConformance` resolves to. */
export interface KitReport {
  /** The titles of the cases run. */
  ran: string[]
  /** The titles of the cases not applicable to this store, each with why. */
  notApplicable: Array<{ title: string, reason: string }>
}

/**
 * A test function, as abstract-level's suite takes one: `node:test`'s `test` or tap's `test`
 * (inside a test, its `t.test.bind(t)`). The store becomes one test, each case a subtest of it
 * (the kit calls `t.test` of the context it is handed); a case that does not apply is skipped
 * with why, and a failing case throws once with every check that failed.
 */
export type KitTest = (name: string, options: { skip?: string }, fn: (t: { test: KitTest }) => Promise<void>) => unknown
