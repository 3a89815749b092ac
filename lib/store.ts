import type { EraseResult, RemovedCounts, Room, Subscription, Upload, User } from './types.js'

/** What the caller of `eraseRoom` will read from its result. */
export interface EraseOptions {
  /**
   * `false` when nothing will read the removed documents (no `fileStore`, no `onAfterErase`):
   * the store may then leave `rooms`, `uploads` and `subscriptions` empty and return only
   * `removed`. Default `true`.
   */
  documents?: boolean
  /**
   * `true` (asked only of a store with `blobs`, when a `fileStore` is given): record every
   * removed upload as a pending blob removal, in the erase's own transaction, until
   * `blobs.removed` is called for it. Default `false`.
   */
  recordBlobs?: boolean
  /**
   * Given only to a store with `purge`: when the room and its discussions hold more than this
   * many rows of one kind (messages, uploads, read receipts), the store must not erase them in
   * this call. It hides the rooms instead, in one short transaction (no lookup finds them or
   * their subscriptions, which it removes), records a pending purge in that same transaction,
   * and resolves with `purging: true`; `purge.step` removes the rest. Without it, or with fewer
   * rows, the erase is whole, as always.
   */
  batchSize?: number
}

/** Blob removals that outlive the process: recorded by the erase, forgotten once done. */
export interface DurableBlobs {
  /**
   * Up to `limit` of the recorded removals not yet done, in a stable order of upload `_id`,
   * starting after the upload `_id` `after` (from the first when it is omitted).
   */
  pending (limit: number, after?: string): Promise<PendingBlob[]>
  /** These uploads' blobs are removed: forget them (an id not pending is no error). */
  removed (uploadIds: readonly string[]): Promise<void>
}

/** What one `purge.step` is asked to do. */
export interface PurgeStepOptions {
  /** The most rows of each kind the step removes. */
  batchSize: number
  /** As `EraseOptions.recordBlobs`: record each upload removed as a pending blob removal, in the step's transaction. */
  recordBlobs?: boolean
  /** `false` when nothing will read the upload records (no `fileStore`): `uploads` may then be empty. Default `true`. */
  documents?: boolean
}

/** What one `purge.step` did. */
export interface PurgeStep {
  /** The id of the room whose erase this purge finishes. */
  roomId: string
  /** The upload records this step removed: their blobs are now to be removed (empty with `documents: false`). */
  uploads: Upload[]
  /**
   * Null while rows of the purge are left. Once the step removed the last of them and the rooms,
   * and forgot the purge: what the whole erase removed, the hiding included.
   */
  finished: RemovedCounts | null
}

/** Optional: erases too big for one short transaction finish behind the answer (docs/store-contract.md). */
export interface PurgeSteps {
  /**
   * Optional: the batch size that keeps each step of this storage short (the plugin's
   * `purge.batchSize` overrides it). PostgresStore: 5000 on a server, 1000 on PGlite, which
   * runs each statement in the server's own thread.
   */
  readonly batchSize?: number
  /**
   * Removes one batch of one pending purge in one short transaction: up to `batchSize` rows of
   * each kind that belong to its rooms (rows written into them after the hiding too). A step that
   * finds nothing left removes the rooms and forgets the purge. Resolves to null when no purge is
   * pending, or every pending one is being stepped by another caller right now: two callers at
   * once never remove the same row. A step that fails changes nothing; the next step resumes.
   */
  step (options: PurgeStepOptions): Promise<PurgeStep | null>
}

/** What one body key names: `findNamed`'s answer. */
export interface Named {
  /** As `findUser(key)` answers. */
  user: User | null
  /** As `findRoomById(key)` answers. */
  room: Room | null
  /** As `findSubscription(key, subscriberId)` answers; null when no `subscriberId` was given. */
  subscription: Subscription | null
}

/** An upload whose file blob is still to be removed, as the erase recorded it. */
export interface PendingBlob {
  upload: Upload
  /** When the erase that removed the upload committed (roughly: when it recorded it). */
  erasedAt: Date
}

/**
 * What the Delete DM use case needs from storage. Implement it to plug in your database (your
 * own schema and ids will do: docs/store-contract.md says what the plugin reads from each
 * result); run the conformance kit (`fastify-im-delete/test-kit`) against your implementation.
 */
export interface ImDeleteStore {
  /**
   * The user with this `_id` holding a login token whose `hashedToken` equals the given one;
   * null for a deactivated user (`active: false`) or a token that no longer counts (expired).
   * Needed only by the default `authenticate`: a host that gives its own may leave it out.
   */
  findUserByLoginToken? (userId: string, hashedToken: string): Promise<User | null>
  /**
   * The user whose `_id` equals `idOrUsername`, else the one whose `username` does (exact,
   * case-sensitive); deactivated users included. How Rocket.Chat resolves both body fields.
   */
  findUser (idOrUsername: string): Promise<User | null>
  /** The room with this id, whatever its type. The plugin reads `_id`, `t` and `federated`. */
  findRoomById (roomId: string): Promise<Room | null>
  /**
   * The room of type `d` whose member ids are exactly this set (one id: a self-DM); not one
   * with more members, nor a room of another type with these. Given sorted and de-duplicated.
   */
  findDirectRoom (uids: readonly string[]): Promise<Room | null>
  /** The user's membership of the room; the plugin reads that it exists, and its `roles`. */
  findSubscription (roomId: string, userId: string): Promise<Subscription | null>
  /**
   * Optional: `findUser(key)`, `findRoomById(key)` and, given `subscriberId`,
   * `findSubscription(key, subscriberId)`, answered together, exactly as those three answer.
   * Nearly every request starts with them (its key is a DM's id, or a username): a database
   * store answers them in one round trip instead of three. Without it the plugin calls the three.
   */
  findNamed? (key: string, subscriberId?: string): Promise<Named>
  /**
   * Removes, all or nothing, the room, its discussions (recursively) and everything that
   * belongs to them: uploads (those no message points to too), messages (thread replies too),
   * subscriptions, read receipts. Resolves to null when the room no longer exists (a concurrent
   * erase won), and only then: of concurrent erases of one room exactly one gets a result. A
   * message written into the room meanwhile fails or is erased with it.
   */
  eraseRoom (roomId: string, options?: EraseOptions): Promise<EraseResult | null>
  /**
   * Optional: blob removals that survive the process. Asked for with `recordBlobs: true`, the
   * erase and the purge's steps record each upload they remove, in their own transaction.
   */
  readonly blobs?: DurableBlobs
  /**
   * Optional: big erases are hidden at once and purged in batches (see `EraseOptions.batchSize`).
   * Pending purges must survive the process: any process running the plugin on the same
   * storage takes them up.
   */
  readonly purge?: PurgeSteps
}

/** The methods every store must have, whatever the plugin's options. */
export const STORE_METHODS = [
  'findUser',
  'findRoomById',
  'findDirectRoom',
  'findSubscription',
  'eraseRoom'
] as const satisfies ReadonlyArray<keyof ImDeleteStore>

/** Member ids as a set, in one canonical order: how every store keys a DM. */
export function directRoomKey (uids: readonly string[]): string[] {
  return [...new Set(uids)].sort()
}
