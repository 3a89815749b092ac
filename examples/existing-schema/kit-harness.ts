// What the conformance kit (fastify-im-delete/test-kit) needs to drive ChatStore: a loader from its
// Rocket.Chat-shaped world into our tables, our uuids for its ids, a fault in the database seam.
import { randomUUID } from 'node:crypto'
import { KitFault, type KitTarget } from '../../lib/test-kit/index.js'
import type { Db } from './db.js'
import { ChatStore } from './store.js'

const KIND: Record<string, string> = { d: 'direct', p: 'group', c: 'channel' }
// Our ids of each kind of row; a read mark has none of its own: its (post, account) key is its id.
const IDS = { room: 'id FROM conversations', subscription: 'id FROM conversation_members', message: 'id FROM posts', upload: 'id FROM attachments', readReceipt: "post_id || ':' || account_id FROM read_marks" }

/** The kit's view of one case: ChatStore over `db` (a new, migrated, empty schema). */
export function chatStoreTarget (db: Db, teardown?: () => Promise<void>): KitTarget<ChatStore> {
  const uuids = new Map<string, string>()
  const uuid = (kind: string, kitId: unknown, key = `${kind}:${String(kitId)}`): string => uuids.get(key) ?? uuids.set(key, randomUUID()).get(key) as string
  const ref = (kind: string, kitId: unknown): string | null => typeof kitId === 'string' ? uuid(kind, kitId) : null
  const sql = async (text: string, values: unknown[]): Promise<any[]> => (await db.query({ name: '', text, values })).rows
  const put = async (table: string, columns: string, rows: object[]): Promise<void> => { await sql(`INSERT INTO ${table} SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${columns})`, [JSON.stringify(rows)]) }
  // The fault: the armed erase (our only transaction) throws right after its k-th DELETE was applied.
  const fault = new KitFault()
  const faulty: Db = { ...db, transaction: async (work) => await db.transaction(async (query) => await work(async (statement) => { const result = await query(statement); if (/\bDELETE\b/.test(statement.text)) fault.wrote(); return result })) }
  return {
    store: new ChatStore(faulty),
    idOf: (kind, kitId, doc) => doc !== undefined && 'messageId' in doc ? `${uuid('message', doc.messageId)}:${uuid('user', doc.userId)}` : uuid(kind, kitId),
    async load ({ users = [], rooms = [], subscriptions = [], messages = [], uploads = [], readReceipts = [] }) {
      const postOf = new Map(messages.flatMap((m) => (m.files ?? []).map((file) => [file._id, m._id])))
      await put('accounts', 'id uuid, username text, display_name text, roles text[], deactivated_at timestamptz', users.map((u) => ({ id: uuid('user', u._id), username: u.username, display_name: u.name, roles: u.roles ?? [], deactivated_at: u.active === false ? new Date() : null })))
      await put('conversations', 'id uuid, kind text, title text, federated boolean, parent_id uuid', rooms.map((r) => ({ id: uuid('room', r._id), kind: KIND[r.t], title: r.fname ?? r.name, federated: r.federated === true, parent_id: ref('room', r.prid) })))
      await put('conversation_members', 'id uuid, conversation_id uuid, account_id uuid, roles text[]', subscriptions.map((s) => ({ id: uuid('subscription', s._id), conversation_id: uuid('room', s.rid), account_id: uuid('user', s.u._id), roles: s.roles ?? [] })))
      await put('posts', 'id uuid, conversation_id uuid, author_id uuid, body text, thread_parent_id uuid', messages.map((m) => ({ id: uuid('message', m._id), conversation_id: uuid('room', m.rid), author_id: ref('user', m.u?._id), body: m.msg ?? '', thread_parent_id: ref('message', m.tmid) })))
      await put('attachments', 'id uuid, conversation_id uuid, post_id uuid, uploader_id uuid, storage_key text, file_name text, size bigint, mime_type text', uploads.map((up) => ({ id: uuid('upload', up._id), conversation_id: uuid('room', up.rid), post_id: ref('message', postOf.get(up._id)), uploader_id: ref('user', up.userId), storage_key: up.path ?? up._id, file_name: up.name, size: up.size, mime_type: up.type })))
      await put('read_marks', 'post_id uuid, account_id uuid, conversation_id uuid', readReceipts.map((rr) => ({ post_id: uuid('message', rr.messageId), account_id: uuid('user', rr.userId), conversation_id: uuid('room', rr.rid) })))
    },
    ids: async (kind) => (await sql(`SELECT ${IDS[kind].replace(' FROM', '::text AS id FROM')}`, [])).map((row) => row.id),
    failNextErase: (afterWrites) => { fault.arm(afterWrites) },
    faultFired: () => fault.fired(),
    writeMessage: async ({ _id, rid, u }) => { await sql('INSERT INTO posts (id, conversation_id, author_id) VALUES ($1, $2, $3)', [uuid('message', _id), uuid('room', rid), uuid('user', u._id)]) },
    teardown
  }
}
