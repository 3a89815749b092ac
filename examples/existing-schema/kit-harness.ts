// What the conformance kit (fastify-im-delete/test-kit) needs to drive ChatStore: a loader from
// its Rocket.Chat-shaped world into our tables, its ids mapped to our uuids, a fault to arm.
import { randomUUID } from 'node:crypto'
import type { Dataset } from '../../index.js'
import type { KitKind, KitTarget } from '../../lib/test-kit/index.js'
import type { Db } from './db.js'
import { ChatStore } from './store.js'

const KIND: Record<string, string> = { d: 'direct', p: 'group', c: 'channel' }

/** The kit's view of one case: ChatStore over `db` (a new, migrated, empty schema). */
export function chatStoreTarget (db: Db, teardown?: () => Promise<void>): KitTarget<ChatStore> {
  const uuids = new Map<string, string>()
  const idOf = (kind: KitKind, kitId: string): string => {
    const key = `${kind}\u0000${kitId}`
    if (!uuids.has(key)) uuids.set(key, randomUUID())
    return uuids.get(key) as string
  }
  const put = async (table: string, columns: string, rows: object[]): Promise<void> => {
    await db.query({ name: '', text: `INSERT INTO ${table} SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(${columns})`, values: [JSON.stringify(rows)] })
  }

  // The fault: the NEXT erase (our only transaction) throws right after its k-th DELETE was applied.
  let armed: number | undefined
  let fired = false
  const faulty: Db = {
    ...db,
    async transaction (work) {
      const after = armed
      armed = undefined
      let writes = 0
      return await db.transaction(async (query) => await work(async (statement) => {
        const result = await query(statement)
        if (/\bDELETE\b/.test(statement.text) && ++writes === after) {
          fired = true
          throw new Error(`kit fault after write ${writes}`)
        }
        return result
      }))
    }
  }

  return {
    store: new ChatStore(faulty),
    idOf,
    async load ({ users = [], rooms = [], subscriptions = [], messages = [], uploads = [], readReceipts = [] }: Dataset) {
      const postOf = new Map(messages.flatMap((m) => (m.files ?? []).map((file) => [file._id, m._id])))
      const ref = (kind: KitKind, kitId: unknown): string | null => typeof kitId === 'string' ? idOf(kind, kitId) : null
      await put('accounts', 'id uuid, username text, display_name text, roles text[], deactivated_at timestamptz', users.map((u) =>
        ({ id: idOf('user', u._id), username: u.username, display_name: u.name, roles: u.roles ?? [], deactivated_at: u.active === false ? new Date() : null })))
      await put('conversations', 'id uuid, kind text, title text, federated boolean, parent_id uuid', rooms.map((r) =>
        ({ id: idOf('room', r._id), kind: KIND[r.t], title: r.fname ?? r.name, federated: r.federated === true, parent_id: ref('room', r.prid) })))
      await put('conversation_members', 'id uuid, conversation_id uuid, account_id uuid, roles text[]', subscriptions.map((s) =>
        ({ id: idOf('subscription', s._id), conversation_id: idOf('room', s.rid), account_id: idOf('user', s.u._id), roles: s.roles ?? [] })))
      await put('posts', 'id uuid, conversation_id uuid, author_id uuid, body text, thread_parent_id uuid', messages.map((m) =>
        ({ id: idOf('message', m._id), conversation_id: idOf('room', m.rid), author_id: ref('user', m.u?._id), body: m.msg ?? '', thread_parent_id: ref('message', m.tmid) })))
      await put('attachments', 'id uuid, conversation_id uuid, post_id uuid, uploader_id uuid, storage_key text, file_name text, size bigint, mime_type text', uploads.map((up) =>
        ({ id: idOf('upload', up._id), conversation_id: idOf('room', up.rid), post_id: ref('message', postOf.get(up._id)), uploader_id: ref('user', up.userId), storage_key: up.path ?? up._id, file_name: up.name, size: up.size, mime_type: up.type })))
      await put('read_marks', 'post_id uuid, account_id uuid, conversation_id uuid', readReceipts.map((rr) =>
        ({ post_id: idOf('message', rr.messageId), account_id: idOf('user', rr.userId), conversation_id: idOf('room', rr.rid) })))
      // A read mark is keyed by (post, account): that pair is its id.
      for (const rr of readReceipts) uuids.set(`readReceipt\u0000${rr._id}`, `${idOf('message', rr.messageId)}:${idOf('user', rr.userId)}`)
    },
    async ids (kind) {
      const id = { room: 'id FROM conversations', subscription: 'id FROM conversation_members', message: 'id FROM posts', upload: 'id FROM attachments', readReceipt: "post_id || ':' || account_id FROM read_marks" }[kind]
      return (await db.query({ name: '', text: `SELECT ${id.replace(' FROM', '::text AS id FROM')}`, values: [] })).rows.map((row) => row.id)
    },
    failNextErase (afterWrites) { armed = afterWrites },
    faultFired () {
      const was = fired
      fired = false
      armed = undefined
      return was
    },
    async writeMessage ({ _id, rid, u }) {
      await db.query({ name: '', text: 'INSERT INTO posts (id, conversation_id, author_id) VALUES ($1, $2, $3)', values: [idOf('message', _id), idOf('room', rid), idOf('user', u._id)] })
    },
    teardown
  }
}
