import type { EraseResult, Room, Subscription, User } from './types.js'

/** What the caller of `eraseRoom` will read from its result. */
export interface EraseOptions {
  /**
   * `false` when nothing will read the removed documents (no `fileStore`, no `onAfterErase`):
   * the store may then leave `rooms`, `uploads` and `subscriptions` empty and return only
   * `removed`. Default `true`.
   */
  documents?: boolean
}

/**
 * What the Delete DM use case needs from storage. Implement it to plug in your database;
 * run the conformance suite (`fastify-im-delete/test-kit`) against your implementation.
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
  findRoomById (roomId: string): Promise<Room | null>
  /** The room of type `d` whose member ids are exactly this set (one id: a self-DM). */
  findDirectRoom (uids: readonly string[]): Promise<Room | null>
  findSubscription (roomId: string, userId: string): Promise<Subscription | null>
  /**
   * Removes, all or nothing, the room, its discussions (recursively) and everything that
   * belongs to them: uploads, messages (thread replies too), subscriptions, read receipts.
   * Resolves to null when the room no longer exists (a concurrent erase won).
   */
  eraseRoom (roomId: string, options?: EraseOptions): Promise<EraseResult | null>
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
