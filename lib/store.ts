import type { EraseResult, Room, Subscription, User } from './types.js'

/**
 * What the Delete DM use case needs from storage. Implement it to plug in your database;
 * run the conformance suite (`fastify-im-delete/test-kit`) against your implementation.
 */
export interface ImDeleteStore {
  /** The user with this `_id` holding a login token whose `hashedToken` equals the given one. */
  findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null>
  findUserByUsername (username: string): Promise<User | null>
  findRoomById (roomId: string): Promise<Room | null>
  /** The room of type `d` whose member ids are exactly this set (one id: a self-DM). */
  findDirectRoom (uids: readonly string[]): Promise<Room | null>
  findSubscription (roomId: string, userId: string): Promise<Subscription | null>
  /**
   * Removes, all or nothing, the room, its discussions (recursively) and everything that
   * belongs to them: uploads, messages, subscriptions, read receipts. Resolves to null when
   * the room no longer exists (a concurrent erase won).
   */
  eraseRoom (roomId: string): Promise<EraseResult | null>
}

export const STORE_METHODS = [
  'findUserByLoginToken',
  'findUserByUsername',
  'findRoomById',
  'findDirectRoom',
  'findSubscription',
  'eraseRoom'
] as const satisfies ReadonlyArray<keyof ImDeleteStore>

/** Member ids as a set, in one canonical order: how every store keys a DM. */
export function directRoomKey (uids: readonly string[]): string[] {
  return [...new Set(uids)].sort()
}
