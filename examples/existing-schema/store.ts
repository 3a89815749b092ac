import type { EraseOptions, EraseResult, ImDeleteStore, Room, Subscription, Upload, User } from '../../index.js'
import type { Db, Query } from './db.js'

const KIND_TO_TYPE: Record<string, string> = { direct: 'd', group: 'p', channel: 'c' }

// Ids are uuids here; anything else a client sends names nothing (and must not reach a ::uuid cast).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const uuidOrNull = (id: string): string | null => UUID.test(id) ? id : null

/** Omits the optional fields a row has no value for, as the plugin's documents do. */
const defined = <T extends object>(doc: T): T =>
  Object.fromEntries(Object.entries(doc).filter(([, value]) => value !== null && value !== undefined)) as T

const toUser = (row: any): User => defined({ _id: row.id, username: row.username, roles: row.roles, active: row.deactivated_at === null })

const toRoom = (row: any): Room => defined({
  _id: row.id,
  t: KIND_TO_TYPE[row.kind],
  uids: row.uids,
  federated: row.federated ? true : undefined,
  prid: row.parent_id
})

const toSubscription = (row: any): Subscription =>
  ({ _id: row.id, rid: row.conversation_id, u: defined({ _id: row.account_id, username: row.username }), roles: row.roles })

const toUpload = (row: any): Upload => defined({
  _id: row.id,
  rid: row.conversation_id,
  userId: row.uploader_id,
  name: row.file_name,
  size: row.size,
  type: row.mime_type,
  storageKey: row.storage_key
})

// A direct conversation lists its members as uids; the others are not asked for theirs.
const ROOM_COLUMNS = `c.id, c.kind, c.federated, c.parent_id,
  CASE c.kind WHEN 'direct' THEN (SELECT array_agg(m.account_id ORDER BY m.account_id) FROM conversation_members m WHERE m.conversation_id = c.id) END AS uids`

/** The plugin's store over the chat server's own tables (schema.sql). */
export class ChatStore implements ImDeleteStore {
  readonly #db: Db

  constructor (db: Db) {
    this.#db = db
  }

  async findUser (idOrUsername: string): Promise<User | null> {
    // A NUL or a lone surrogate: no text column holds it (PostgreSQL refuses it, 22021), so no user has it.
    // eslint-disable-next-line no-control-regex -- the NUL is what it looks for
    if (/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(idOrUsername)) return null
    const { rows } = await this.#db.query({
      name: 'im-delete-find-user',
      // By id first, else by username: a username that happens to look like a uuid loses.
      text: `SELECT id, username, roles, deactivated_at FROM accounts WHERE id = $1 OR username = $2
             ORDER BY id = $1 DESC NULLS LAST LIMIT 1`,
      values: [uuidOrNull(idOrUsername), idOrUsername]
    })
    return rows.length === 0 ? null : toUser(rows[0])
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    if (uuidOrNull(roomId) === null) return null
    const { rows } = await this.#db.query({ name: 'im-delete-find-room', text: `SELECT ${ROOM_COLUMNS} FROM conversations c WHERE c.id = $1`, values: [roomId] })
    return rows.length === 0 ? null : toRoom(rows[0])
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    if (!uids.every(UUID.test, UUID)) return null
    const { rows } = await this.#db.query({
      name: 'im-delete-find-direct',
      // From the first member's memberships, the direct conversation whose member set is exactly this one.
      text: `SELECT ${ROOM_COLUMNS} FROM conversation_members mine JOIN conversations c ON c.id = mine.conversation_id
             WHERE mine.account_id = ($1::uuid[])[1] AND c.kind = 'direct'
               AND (SELECT array_agg(m.account_id ORDER BY m.account_id) FROM conversation_members m WHERE m.conversation_id = c.id)
                 = (SELECT array_agg(DISTINCT u ORDER BY u) FROM unnest($1::uuid[]) u)
             ORDER BY c.created_at, c.id LIMIT 1`,
      values: [uids]
    })
    return rows.length === 0 ? null : toRoom(rows[0])
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    if (uuidOrNull(roomId) === null || uuidOrNull(userId) === null) return null
    const { rows } = await this.#db.query({
      name: 'im-delete-find-membership',
      text: `SELECT m.id, m.conversation_id, m.account_id, a.username, m.roles FROM conversation_members m JOIN accounts a ON a.id = m.account_id
             WHERE m.conversation_id = $1 AND m.account_id = $2`,
      values: [roomId, userId]
    })
    return rows.length === 0 ? null : toSubscription(rows[0])
  }

  async eraseRoom (roomId: string, { documents = true }: EraseOptions = {}): Promise<EraseResult | null> {
    if (uuidOrNull(roomId) === null) return null
    return await this.#db.transaction(async (query) => {
      const ids = await lockTree(query, roomId)
      if (ids.length === 0) return null
      // Children before parents, as the foreign keys want; each statement one set-wise delete.
      const deleted = async (name: string, text: string): Promise<any[]> => (await query({ name: `im-delete-erase-${name}`, text, values: [ids] })).rows
      const uploads = await deleted('attachments', `DELETE FROM attachments WHERE conversation_id = ANY($1::uuid[])
        RETURNING id, conversation_id, uploader_id, file_name, size::float8 AS size, mime_type, storage_key`)
      const [{ count: readReceipts }] = await deleted('read-marks', `WITH gone AS (DELETE FROM read_marks WHERE conversation_id = ANY($1::uuid[]) RETURNING 1)
        SELECT count(*)::int AS count FROM gone`)
      const [{ count: messages }] = await deleted('posts', `WITH gone AS (DELETE FROM posts WHERE conversation_id = ANY($1::uuid[]) RETURNING 1)
        SELECT count(*)::int AS count FROM gone`)
      const members = await deleted('members', `WITH gone AS (DELETE FROM conversation_members WHERE conversation_id = ANY($1::uuid[]) RETURNING *)
        SELECT gone.id, gone.conversation_id, gone.account_id, a.username, gone.roles FROM gone JOIN accounts a ON a.id = gone.account_id ORDER BY gone.id`)
      const rooms = await deleted('conversations', 'DELETE FROM conversations c WHERE id = ANY($1::uuid[]) RETURNING c.id, c.kind, c.federated, c.parent_id')
      const subscriptions = members.map(toSubscription)
      const uidsOf = (room: any): string[] => subscriptions.filter((s) => s.rid === room.id).map((s) => s.u._id).sort()
      return {
        // The DM first, then its discussions in the order the walk found them.
        rooms: documents ? rooms.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)).map((row) => toRoom({ ...row, uids: row.kind === 'direct' ? uidsOf(row) : null })) : [],
        uploads: documents ? uploads.map(toUpload) : [],
        subscriptions: documents ? subscriptions : [],
        removed: { messages, subscriptions: members.length, uploads: uploads.length, readReceipts, discussions: ids.length - 1 }
      }
    })
  }
}

/**
 * Locks the conversation and its discussions (at any depth, breadth first, a parent cycle walked
 * once) and returns their ids; none when the conversation is gone (a concurrent erase won).
 * A discussion committed by a writer the lock had to wait for is seen by the next walk: walk
 * again until nothing new appears.
 */
async function lockTree (query: Query, roomId: string): Promise<string[]> {
  let ids: string[] = []
  for (;;) {
    const { rows } = await query({
      name: 'im-delete-erase-lock',
      text: `WITH RECURSIVE tree (id) AS (
               SELECT id FROM conversations WHERE id = $1
               UNION ALL
               SELECT c.id FROM conversations c JOIN tree ON c.parent_id = tree.id
             ) SEARCH BREADTH FIRST BY id SET ord CYCLE id SET cyclic USING path
             SELECT c.id FROM tree JOIN conversations c ON c.id = tree.id WHERE NOT tree.cyclic
             ORDER BY tree.ord FOR UPDATE OF c`,
      values: [roomId]
    })
    const walked = rows.map((row) => row.id as string)
    if (walked.join() === ids.join()) return ids
    ids = walked
  }
}
