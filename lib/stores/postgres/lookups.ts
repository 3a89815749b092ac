// The store's reads, each one statement found through one index (migration 2). A room being
// purged (migration 5) is found by none of them.
import { statement, type Statement } from './driver.js'

export interface LookupStatements {
  /** $1 the user's id, $2 the token's hash. */
  findUserByLoginToken: Statement
  /** $1 an `_id` or a username. */
  findUser: Statement
  /** $1 the room's id. */
  findRoomById: Statement
  /** $1 the member ids, sorted and de-duplicated (`directRoomKey`). */
  findDirectRoom: Statement
  /** $1 the room's id, $2 the user's. */
  findSubscription: Statement
  /** $1 the key, $2 the subscriber's id or null: the three lookups most requests start with, one round trip and one row. */
  findNamed: Statement
}

/** Built once per store, with their names: prepared once per connection, not planned per call. */
export function lookupStatements (table: (name: string) => string): LookupStatements {
  return {
    // Tokens are stored hashed: matching the hash leaks nothing that a timing attack could use.
    findUserByLoginToken: statement(
      `SELECT u.doc::text AS doc FROM ${table('login_tokens')} t JOIN ${table('users')} u ON u._id = t.user_id
       WHERE t.user_id = $1 AND t.hashed_token = $2 AND (u.doc->'active') IS DISTINCT FROM 'false'::jsonb`),
    // By _id first: Rocket.Chat's `{ $or: [{ _id }, { username }] }`, made deterministic.
    findUser: statement(`SELECT doc::text AS doc FROM ${table('users')} WHERE _id = $1 OR username = $1 ORDER BY _id = $1 DESC LIMIT 1`),
    findRoomById: statement(`SELECT doc::text AS doc FROM ${table('rooms')} WHERE _id = $1 AND NOT purging`),
    findDirectRoom: statement(`SELECT doc::text AS doc FROM ${table('rooms')} WHERE t = 'd' AND member_key = $1::text[] AND NOT purging ORDER BY _id LIMIT 1`),
    findSubscription: statement(`SELECT doc::text AS doc FROM ${table('subscriptions')} WHERE rid = $1 AND user_id = $2 ORDER BY _id LIMIT 1`),
    // Each subquery as its own method's statement has it.
    findNamed: statement(
      `SELECT (SELECT doc::text FROM ${table('users')} WHERE _id = $1 OR username = $1 ORDER BY _id = $1 DESC LIMIT 1) AS user,
              (SELECT doc::text FROM ${table('rooms')} WHERE _id = $1 AND NOT purging) AS room,
              (SELECT doc::text FROM ${table('subscriptions')} WHERE rid = $1 AND user_id = $2 ORDER BY _id LIMIT 1) AS subscription`)
  }
}
