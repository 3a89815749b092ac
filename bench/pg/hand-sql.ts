/**
 * The baseline: what the store does, written by hand as plain SQL, against the store's table
 * layout (one table per collection keyed by `_id`, room-owned rows carrying `rid`, the whole
 * document in `doc jsonb`; rooms with `t`, `member_key` and `prid`, subscriptions with
 * `user_id`, users with `username`). REFERENCE_LAYOUT creates that layout when the store is
 * not wired in, so the hand-SQL side runs on its own; `checkLayout` tells when a store's
 * tables no longer match what this file's SQL expects.
 */
import pg from 'pg'
import type { Dataset, EraseResult, Room, Subscription, User } from '../../index.js'
import { directRoomKey } from '../../lib/store.js'
import type { LayoutOwner } from './contract.js'

export const q = (schema: string, table: string): string => `${pg.escapeIdentifier(schema)}.${table}`

/** The columns the hand SQL below reads or filters on, table by table. */
export const HAND_SQL_COLUMNS: Record<string, readonly string[]> = {
  users: ['_id', 'username', 'doc'],
  rooms: ['_id', 't', 'member_key', 'prid', 'doc'],
  subscriptions: ['_id', 'rid', 'user_id', 'doc'],
  messages: ['_id', 'rid'],
  uploads: ['_id', 'rid', 'doc'],
  read_receipts: ['_id', 'rid']
}

/** Fails, naming what is missing, when the tables in `schema` are not the layout this file's SQL is written for. */
export async function checkLayout (pool: pg.Pool, schema: string): Promise<void> {
  const { rows } = await pool.query<{ table_name: string, column_name: string }>(
    'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1', [schema])
  const have = new Set(rows.map((row) => `${row.table_name}.${row.column_name}`))
  const missing = Object.entries(HAND_SQL_COLUMNS).flatMap(([table, columns]) =>
    columns.map((column) => `${table}.${column}`).filter((name) => !have.has(name)))
  if (missing.length > 0) {
    throw new Error(`bench/pg: the store's tables lack ${missing.join(', ')}: bring bench/pg/hand-sql.ts in line with the store's schema`)
  }
}

/**
 * The hand-written erase: one transaction, one statement per step, in Rocket.Chat's order.
 * Returns what the store's `eraseRoom` returns, so both sides do the same work.
 */
export async function handErase (pool: pg.Pool, schema: string, roomId: string): Promise<EraseResult | null> {
  const t = (name: string): string => q(schema, name)
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const locked = await client.query(`SELECT 1 FROM ${t('rooms')} WHERE _id = $1 FOR UPDATE`, [roomId])
    if (locked.rowCount === 0) {
      await client.query('ROLLBACK')
      return null
    }
    const { rows: [{ ids }] } = await client.query<{ ids: string[] }>(
      `WITH RECURSIVE tree (_id) AS (
         SELECT _id FROM ${t('rooms')} WHERE _id = $1
         UNION SELECT r._id FROM ${t('rooms')} r JOIN tree ON r.prid = tree._id)
       SELECT array_agg(_id) AS ids FROM tree`, [roomId])
    const uploads = await client.query<{ doc: any }>(`DELETE FROM ${t('uploads')} WHERE rid = ANY($1) RETURNING doc`, [ids])
    const messages = await client.query(`DELETE FROM ${t('messages')} WHERE rid = ANY($1)`, [ids])
    const subscriptions = await client.query<{ doc: Subscription }>(`DELETE FROM ${t('subscriptions')} WHERE rid = ANY($1) RETURNING doc`, [ids])
    const readReceipts = await client.query(`DELETE FROM ${t('read_receipts')} WHERE rid = ANY($1)`, [ids])
    const rooms = await client.query<{ doc: Room }>(`DELETE FROM ${t('rooms')} WHERE _id = ANY($1) RETURNING doc`, [ids])
    await client.query('COMMIT')
    return {
      rooms: rooms.rows.map((row) => row.doc),
      uploads: uploads.rows.map((row) => row.doc),
      subscriptions: subscriptions.rows.map((row) => row.doc),
      removed: {
        messages: messages.rowCount ?? 0,
        subscriptions: subscriptions.rowCount ?? 0,
        uploads: uploads.rowCount ?? 0,
        readReceipts: readReceipts.rowCount ?? 0,
        discussions: (rooms.rowCount ?? 0) - 1
      }
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/** The lookups that resolve a DM by username, written by hand: user, then 1:1 DM, then the caller's subscription. */
export async function handResolve (pool: pg.Pool, schema: string, callerId: string, username: string): Promise<{ room: Room, subscription: Subscription | null } | null> {
  const t = (name: string): string => q(schema, name)
  const { rows: [other] } = await pool.query<{ doc: User }>(`SELECT doc FROM ${t('users')} WHERE username = $1`, [username])
  if (other === undefined) return null
  const { rows: [room] } = await pool.query<{ doc: Room }>(
    `SELECT doc FROM ${t('rooms')} WHERE t = 'd' AND member_key = $1::text[] LIMIT 1`, [directRoomKey([callerId, other.doc._id])])
  if (room === undefined) return null
  const { rows: [subscription] } = await pool.query<{ doc: Subscription }>(
    `SELECT doc FROM ${t('subscriptions')} WHERE rid = $1 AND user_id = $2 LIMIT 1`, [room.doc._id, callerId])
  return { room: room.doc, subscription: subscription?.doc ?? null }
}

/** The hand lookups' plans: each must be an index scan, whatever the table's size. */
export async function explainHandResolve (pool: pg.Pool, schema: string, callerId: string, otherId: string, username: string, roomId: string): Promise<Record<string, string>> {
  const t = (name: string): string => q(schema, name)
  const plan = async (text: string, params: unknown[]): Promise<string> => {
    const { rows } = await pool.query(`EXPLAIN ${text}`, params)
    return rows.map((row) => row['QUERY PLAN']).join(' / ').replace(/\s+/g, ' ')
  }
  return {
    user: await plan(`SELECT doc FROM ${t('users')} WHERE username = $1`, [username]),
    room: await plan(`SELECT doc FROM ${t('rooms')} WHERE t = 'd' AND member_key = $1::text[] LIMIT 1`, [directRoomKey([callerId, otherId])]),
    subscription: await plan(`SELECT doc FROM ${t('subscriptions')} WHERE rid = $1 AND user_id = $2 LIMIT 1`, [roomId, callerId])
  }
}

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

/**
 * The store's table layout as of branch pg-store (schema version 2), made and filled here so
 * that the hand-SQL side can run before the store is wired in. Not used once it is.
 */
export const REFERENCE_LAYOUT: LayoutOwner = {
  name: 'reference layout (hand SQL only)',
  async createTables (pool, schema) {
    const t = (name: string): string => q(schema, name)
    for (const statement of [
      `CREATE TABLE ${t('users')} (_id text PRIMARY KEY, username text, doc jsonb NOT NULL)`,
      `CREATE TABLE ${t('login_tokens')} (user_id text NOT NULL REFERENCES ${t('users')} ON DELETE CASCADE, hashed_token text NOT NULL, PRIMARY KEY (user_id, hashed_token))`,
      `CREATE TABLE ${t('rooms')} (_id text PRIMARY KEY, t text, member_key text[], prid text, doc jsonb NOT NULL)`,
      `CREATE TABLE ${t('subscriptions')} (_id text PRIMARY KEY, rid text NOT NULL, user_id text, doc jsonb NOT NULL)`,
      ...['messages', 'uploads', 'read_receipts'].map((name) => `CREATE TABLE ${t(name)} (_id text PRIMARY KEY, rid text NOT NULL, doc jsonb NOT NULL)`),
      `CREATE UNIQUE INDEX ON ${t('users')} (username)`,
      `CREATE INDEX ON ${t('rooms')} (t, member_key) WHERE member_key IS NOT NULL`,
      `CREATE INDEX ON ${t('rooms')} (prid) WHERE prid IS NOT NULL`,
      `CREATE INDEX ON ${t('subscriptions')} (rid, user_id)`,
      ...['messages', 'uploads', 'read_receipts'].map((name) => `CREATE INDEX ON ${t(name)} (rid)`)
    ]) await pool.query(statement)
  },
  async import (pool, schema, dataset: Dataset) {
    const insert = async (table: string, columns: Record<string, string>, rows: unknown[]): Promise<void> => {
      if (rows.length === 0) return
      const names = Object.keys(columns)
      await pool.query(
        `INSERT INTO ${q(schema, table)} (${names.join(', ')})
         SELECT ${names.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS r(${names.map((name) => `${name} ${columns[name]}`).join(', ')})`,
        [JSON.stringify(rows)])
    }
    const users = dataset.users ?? []
    await insert('users', { _id: 'text', username: 'text', doc: 'jsonb' }, users.map((doc) => ({ _id: doc._id, username: stringOrNull(doc.username), doc })))
    await insert('login_tokens', { user_id: 'text', hashed_token: 'text' }, users.flatMap((user) =>
      (user.services?.resume?.loginTokens ?? []).map((token) => ({ user_id: user._id, hashed_token: token.hashedToken }))))
    await insert('rooms', { _id: 'text', t: 'text', member_key: 'text[]', prid: 'text', doc: 'jsonb' }, (dataset.rooms ?? []).map((doc) => ({
      _id: doc._id, t: doc.t, member_key: Array.isArray(doc.uids) ? directRoomKey(doc.uids) : null, prid: stringOrNull(doc.prid), doc
    })))
    await insert('subscriptions', { _id: 'text', rid: 'text', user_id: 'text', doc: 'jsonb' }, (dataset.subscriptions ?? []).map((doc) => ({
      _id: doc._id, rid: doc.rid, user_id: stringOrNull(doc.u?._id), doc
    })))
    for (const [table, docs] of [['messages', dataset.messages], ['uploads', dataset.uploads], ['read_receipts', dataset.readReceipts]] as const) {
      await insert(table, { _id: 'text', rid: 'text', doc: 'jsonb' }, (docs ?? []).map((doc) => ({ _id: doc._id, rid: doc.rid, doc })))
    }
  }
}
