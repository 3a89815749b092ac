import { directRoomKey, type EraseOptions, type ImDeleteStore, type PendingBlob } from '../../store.js'
import { blobRemoved, deleteUploadsRecordingBlobs, pendingBlobs, recordsBlobs } from './blobs.js'
import type { Dataset, Dump, EraseResult, Room, Subscription, User } from '../../types.js'
import { driverFor, quoteIdentifier, waitBounds, type Driver, type PostgresStoreOptions, type Sql, type WaitBounds } from './driver.js'
import { MIGRATIONS, ROOM_KEYS, SCHEMA_VERSION } from './migrations.js'

export interface MigrateOptions {
  /** Stop at this version instead of the newest (staged upgrades, tests). */
  to?: number
}

export interface ExplainOptions {
  /** Run the query and report real row counts and timings (`EXPLAIN ANALYZE`). */
  analyze?: boolean
}

type Lookup = Exclude<keyof ImDeleteStore, 'eraseRoom' | 'pendingBlobs' | 'blobRemoved'>

/** Each dumped collection's table, and the columns import writes to it (`jsonb_to_recordset` types). */
const COLLECTIONS: Record<keyof Dump, { table: string, columns: Record<string, string> }> = {
  users: { table: 'users', columns: { _id: 'text', username: 'text', doc: 'jsonb' } },
  rooms: { table: 'rooms', columns: { _id: 'text', t: 'text', member_key: 'text[]', prid: 'text', doc: 'jsonb' } },
  subscriptions: { table: 'subscriptions', columns: { _id: 'text', rid: 'text', user_id: 'text', doc: 'jsonb' } },
  messages: { table: 'messages', columns: { _id: 'text', rid: 'text', doc: 'jsonb' } },
  uploads: { table: 'uploads', columns: { _id: 'text', rid: 'text', doc: 'jsonb' } },
  readReceipts: { table: 'read_receipts', columns: { _id: 'text', rid: 'text', doc: 'jsonb' } }
}

// MongoDB's extended JSON for dates: Rocket.Chat documents keep their Date fields through jsonb,
// and no stored Mongo document has a `$`-prefixed key of its own.
function encode (value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, json) {
    const raw = this[key]
    return raw instanceof Date ? { $date: raw.toISOString() } : json
  })
}

const reviveDate = (_key: string, value: any): unknown =>
  value !== null && typeof value === 'object' && typeof value.$date === 'string' && Object.keys(value).length === 1
    ? new Date(value.$date)
    : value

function decode (text: string): any {
  // A reviver is called for every value: only a document that holds a date needs one.
  return text.includes('"$date"') ? JSON.parse(text, reviveDate) : JSON.parse(text)
}

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

/** The documents of one collection, checked like the memory store does; a later `_id` replaces an earlier one. */
function latest<T extends { _id: string, rid?: unknown }> (collection: keyof Dump, docs: readonly T[] = []): T[] {
  for (const doc of docs) {
    if (doc === null || typeof doc !== 'object' || typeof doc._id !== 'string') {
      throw new TypeError(`PostgresStore: every document in '${collection}' needs a string _id`)
    }
    if (collection !== 'users' && collection !== 'rooms' && typeof doc.rid !== 'string') {
      throw new TypeError(`PostgresStore: every document in '${collection}' needs a string rid`)
    }
  }
  return [...new Map(docs.map((doc) => [doc._id, doc])).values()]
}

/** A foreign key to `rooms` refusing an import, said in the dataset's terms; null for any other error. */
function orphanRefused (err: unknown): Error | null {
  const { code, constraint, detail } = err as { code?: unknown, constraint?: unknown, detail?: unknown }
  const key = code === '23503' ? ROOM_KEYS.find(({ table, column }) => constraint === `${table}_${column}_fkey`) : undefined
  if (key === undefined) return null
  return new Error(
    `PostgresStore: a document in '${key.collection}' names a room (${key.column}) that is neither in the store nor in this import; nothing was imported (${String(detail)})`,
    { cause: err })
}

/**
 * Rocket.Chat's collections in PostgreSQL (a server through `pg`, or embedded PGlite): one table
 * per collection keyed by `_id`, room-owned rows carrying `rid`, every lookup one index scan, every
 * erase one transaction that deletes set-wise by room id.
 */
export class PostgresStore implements ImDeleteStore {
  readonly #driver: Driver
  readonly #bounds: WaitBounds
  readonly #schema: string
  readonly #table: (name: string) => string
  /** Known once true: the schema has the pending blob removals (never goes back). */
  #recordsBlobs = false
  readonly #lookups: { [M in Lookup]: (...args: Parameters<Required<ImDeleteStore>[M]>) => [string, unknown[]] }

  constructor (options: PostgresStoreOptions) {
    const { schema = 'public' } = options
    if (typeof schema !== 'string' || schema === '') throw new TypeError('PostgresStore: the option schema must be a non-empty string')
    this.#bounds = waitBounds(options)
    this.#driver = driverFor(options)
    this.#schema = schema
    const quoted = quoteIdentifier(schema)
    this.#table = (name) => `${quoted}.${name}`
    const table = this.#table
    this.#lookups = {
      // Tokens are stored hashed: matching the hash leaks nothing that a timing attack could use.
      findUserByLoginToken: (userId, hashedToken) => [
        `SELECT u.doc::text AS doc FROM ${table('login_tokens')} t JOIN ${table('users')} u ON u._id = t.user_id
         WHERE t.user_id = $1 AND t.hashed_token = $2 AND (u.doc->'active') IS DISTINCT FROM 'false'::jsonb`,
        [userId, hashedToken]],
      // By _id first: Rocket.Chat's `{ $or: [{ _id }, { username }] }`, made deterministic.
      findUser: (idOrUsername) => [
        `SELECT doc::text AS doc FROM ${table('users')} WHERE _id = $1 OR username = $1 ORDER BY _id = $1 DESC LIMIT 1`,
        [idOrUsername]],
      findRoomById: (roomId) => [`SELECT doc::text AS doc FROM ${table('rooms')} WHERE _id = $1`, [roomId]],
      findDirectRoom: (uids) => [
        `SELECT doc::text AS doc FROM ${table('rooms')} WHERE t = 'd' AND member_key = $1::text[] ORDER BY _id LIMIT 1`,
        [directRoomKey(uids)]],
      findSubscription: (roomId, userId) => [
        `SELECT doc::text AS doc FROM ${table('subscriptions')} WHERE rid = $1 AND user_id = $2 ORDER BY _id LIMIT 1`,
        [roomId, userId]]
    }
  }

  /** Creates the schema, or upgrades it to this release's version; safe to run again, and from several processes. */
  async migrate ({ to = SCHEMA_VERSION }: MigrateOptions = {}): Promise<void> {
    if (!Number.isInteger(to) || to < 0 || to > SCHEMA_VERSION) {
      throw new RangeError(`PostgresStore: migrate({ to }) takes a version from 0 to ${SCHEMA_VERSION}, got ${String(to)}`)
    }
    const table = this.#table
    await this.#driver.transaction(async (sql) => {
      // Two processes migrating at once take turns; the lock needs no table, so it comes first.
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fastify-im-delete:${this.#schema}`])
      await sql.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(this.#schema)}`)
      await sql.query(`CREATE TABLE IF NOT EXISTS ${table('schema_migrations')} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
      const current = await this.#version(sql)
      if (current > SCHEMA_VERSION) {
        throw new Error(`PostgresStore: schema ${this.#schema} is at version ${current}, newer than this release's ${SCHEMA_VERSION}; upgrade fastify-im-delete`)
      }
      for (let version = current + 1; version <= to; version++) {
        for (const statement of MIGRATIONS[version - 1](table)) await sql.query(statement)
        await sql.query(`INSERT INTO ${table('schema_migrations')} (version) VALUES ($1)`, [version])
      }
    })
  }

  /** The schema's version: 0 before the first `migrate()`. */
  async schemaVersion (): Promise<number> {
    return await this.#version(this.#driver)
  }

  /** Adds (or replaces, by `_id`) the documents of a dataset, all or nothing. */
  async import (dataset: Dataset): Promise<void> {
    const users = latest('users', dataset.users)
    const rows: Record<keyof Dump, unknown[]> = {
      users: users.map((user) => ({ _id: user._id, username: stringOrNull(user.username), doc: user })),
      rooms: latest('rooms', dataset.rooms).map((room) => ({
        _id: room._id,
        t: stringOrNull(room.t),
        member_key: Array.isArray(room.uids) ? directRoomKey(room.uids) : null,
        prid: stringOrNull(room.prid),
        doc: room
      })),
      subscriptions: latest('subscriptions', dataset.subscriptions).map((sub) =>
        ({ _id: sub._id, rid: sub.rid, user_id: stringOrNull(sub.u?._id), doc: sub })),
      messages: latest('messages', dataset.messages).map((doc) => ({ _id: doc._id, rid: doc.rid, doc })),
      uploads: latest('uploads', dataset.uploads).map((doc) => ({ _id: doc._id, rid: doc.rid, doc })),
      readReceipts: latest('readReceipts', dataset.readReceipts).map((doc) => ({ _id: doc._id, rid: doc.rid, doc }))
    }
    const tokens = users.flatMap((user) => {
      const held = user.services?.resume?.loginTokens
      return (Array.isArray(held) ? held : [])
        .filter((token) => typeof token?.hashedToken === 'string')
        .map((token) => ({ user_id: user._id, hashed_token: token.hashedToken }))
    })
    const table = this.#table
    await this.#driver.transaction(async (sql) => {
      // COLLECTIONS lists rooms before what they hold: the foreign keys see a room imported in
      // this same transaction (a discussion may come before its parent: one statement, checked at its end).
      for (const collection of Object.keys(COLLECTIONS) as Array<keyof Dump>) {
        await sql.query(this.#upsert(collection), [encode(rows[collection])])
      }
      // A replaced user keeps only the tokens of its new document.
      await sql.query(`DELETE FROM ${table('login_tokens')} WHERE user_id = ANY($1::text[])`, [users.map((user) => user._id)])
      await sql.query(
        `INSERT INTO ${table('login_tokens')} (user_id, hashed_token)
         SELECT user_id, hashed_token FROM jsonb_to_recordset($1::jsonb) AS r(user_id text, hashed_token text)
         ON CONFLICT DO NOTHING`,
        [encode(tokens)])
    }).catch((err: unknown) => { throw orphanRefused(err) ?? err })
  }

  /** Every collection, each sorted by `_id`, read in one statement so it is one snapshot. */
  async dump (): Promise<Dump> {
    const collections = Object.entries(COLLECTIONS).map(([collection, { table }]) =>
      `(SELECT coalesce(json_agg(doc ORDER BY _id COLLATE "C"), '[]')::text FROM ${this.#table(table)}) AS "${collection}"`)
    const { rows: [row] } = await this.#driver.query(`SELECT ${collections.join(', ')}`)
    return Object.fromEntries(Object.entries(row).map(([collection, docs]) => [collection, decode(docs as string)])) as Dump
  }

  /** Closes the pool the store opened from a connection string; a pool or PGlite you gave stays open. */
  async close (): Promise<void> {
    await this.#driver.close()
  }

  /** The plan PostgreSQL picks for one of the lookups, as `EXPLAIN (FORMAT JSON)` gives it. */
  async explain<M extends Lookup> (method: M, args: Parameters<Required<ImDeleteStore>[M]>, { analyze = false }: ExplainOptions = {}): Promise<unknown> {
    const [text, params] = (this.#lookups[method] as (...args: unknown[]) => [string, unknown[]])(...args)
    const { rows } = await this.#driver.query(`EXPLAIN (FORMAT JSON${analyze ? ', ANALYZE' : ''}) ${text}`, params)
    return rows[0]['QUERY PLAN']
  }

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    return await this.#find(this.#lookups.findUserByLoginToken(userId, hashedToken))
  }

  async findUser (idOrUsername: string): Promise<User | null> {
    return await this.#find(this.#lookups.findUser(idOrUsername))
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    return await this.#find(this.#lookups.findRoomById(roomId))
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    return await this.#find(this.#lookups.findDirectRoom(uids))
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    return await this.#find(this.#lookups.findSubscription(roomId, userId))
  }

  async eraseRoom (roomId: string, { documents = true, recordBlobs = false }: EraseOptions = {}): Promise<EraseResult | null> {
    const table = this.#table
    const recording = recordBlobs && await this.#hasPendingBlobs()
    return await this.#driver.transaction(async (sql) => {
      // The room, then its discussions breadth first (a prid cycle is walked once), each locked.
      // A concurrent erase of the same room waits on the room's lock, then walks nothing: null.
      // A row added to a locked room (its foreign key takes a share lock on the room) waits for
      // this erase and then fails. A writer that got its share lock first is waited for, and
      // what it committed (a new discussion too) is seen by the next walk: walk until nothing new.
      let roomIds: string[] = []
      for (;;) {
        const { rows: tree } = await sql.query(
          `WITH RECURSIVE tree (_id) AS (
             SELECT _id FROM ${table('rooms')} WHERE _id = $1
             UNION ALL
             SELECT r._id FROM ${table('rooms')} r JOIN tree ON r.prid = tree._id
           ) SEARCH BREADTH FIRST BY _id SET ord CYCLE _id SET cyclic USING path
           SELECT r._id FROM tree JOIN ${table('rooms')} r ON r._id = tree._id WHERE NOT tree.cyclic
           ORDER BY tree.ord FOR UPDATE OF r`,
          [roomId])
        const walked = tree.map((row) => row._id as string)
        if (walked.length === 0) return null
        if (walked.join('\u0000') === roomIds.join('\u0000')) break
        roomIds = walked
      }
      // Rocket.Chat's order: uploads, messages, subscriptions, read receipts, then the rooms.
      // Documents come back only when someone will read them; the rest is counted by the server.
      const count = async (name: string, key: string): Promise<number> =>
        (await sql.query(`DELETE FROM ${table(name)} WHERE ${key} = ANY($1::text[])`, [roomIds])).rowCount as number
      const removed = async (name: string, key: string, order: string): Promise<{ docs: any[], count: number }> => {
        if (!documents) return { docs: [], count: await count(name, key) }
        const { rows } = await sql.query(
          `WITH gone AS (DELETE FROM ${table(name)} WHERE ${key} = ANY($1::text[]) RETURNING _id, doc)
           SELECT doc::text AS doc FROM gone ORDER BY ${order}`,
          [roomIds])
        return { docs: rows.map((row) => decode(row.doc)), count: rows.length }
      }
      // Blobs to remove after the commit are recorded with it, so a crash cannot lose them.
      const uploads = recording
        ? await sql.query(deleteUploadsRecordingBlobs(table), [roomIds]).then(({ rows }) => ({ docs: rows.map((row) => decode(row.doc)), count: rows.length }))
        : await removed('uploads', 'rid', '_id')
      const messages = await count('messages', 'rid')
      const subscriptions = await removed('subscriptions', 'rid', '_id')
      const readReceipts = await count('read_receipts', 'rid')
      const rooms = await removed('rooms', '_id', 'array_position($1::text[], _id)')
      return {
        rooms: rooms.docs,
        uploads: uploads.docs,
        subscriptions: subscriptions.docs,
        removed: { messages, subscriptions: subscriptions.count, uploads: uploads.count, readReceipts, discussions: roomIds.length - 1 }
      }
    }, this.#bounds)
  }

  /** The blob removals erases recorded and nobody has finished yet (see `ImDeleteStore.pendingBlobs`). */
  async pendingBlobs (limit: number, after = ''): Promise<PendingBlob[]> {
    return await this.#hasPendingBlobs() ? await pendingBlobs(this.#driver, this.#table, decode, limit, after) : []
  }

  async #hasPendingBlobs (): Promise<boolean> {
    this.#recordsBlobs ||= await recordsBlobs(this.#driver, this.#table)
    return this.#recordsBlobs
  }

  async blobRemoved (uploadId: string): Promise<void> {
    await blobRemoved(this.#driver, this.#table, uploadId)
  }

  async #find ([text, params]: [string, unknown[]]): Promise<any> {
    const { rows } = await this.#driver.lookup(text, params, this.#bounds)
    return rows.length === 0 ? null : decode(rows[0].doc)
  }

  async #version (sql: Sql): Promise<number> {
    const table = this.#table('schema_migrations')
    const { rows: [found] } = await sql.query('SELECT to_regclass($1) IS NOT NULL AS present', [table])
    if (found.present !== true) return 0
    const { rows: [row] } = await sql.query(`SELECT coalesce(max(version), 0) AS version FROM ${table}`)
    return row.version
  }

  #upsert (collection: keyof Dump): string {
    const { table, columns } = COLLECTIONS[collection]
    const names = Object.keys(columns)
    return `INSERT INTO ${this.#table(table)} (${names.join(', ')})
      SELECT ${names.join(', ')} FROM jsonb_to_recordset($1::jsonb) AS r(${names.map((name) => `${name} ${columns[name]}`).join(', ')})
      ON CONFLICT (_id) DO UPDATE SET ${names.filter((name) => name !== '_id').map((name) => `${name} = excluded.${name}`).join(', ')}`
  }
}
