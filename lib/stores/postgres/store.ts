import { InvalidDocumentError, MigrateVersionError, RoomPurgingError, SchemaTooNewError, StoreOptionError, UnknownRoomError } from '../../errors.js'
import { directRoomKey, type DurableBlobs, type EraseOptions, type ImDeleteStore, type Named, type PurgeSteps } from '../../store.js'
import { blobsRemoved, pendingBlobs, recordPending } from './blobs.js'
import { purgeStatements, purgeStep, type PurgeStatements } from './purge.js'
import type { Dataset, Dump, EraseResult, Room, Subscription, User } from '../../types.js'
import { driverFor, quoteIdentifier, statement, waitBounds, type Driver, type PostgresStoreOptions, type Runner, type Sql, type Statement, type WaitBounds } from './driver.js'
import { lookupStatements, type LookupStatements } from './lookups.js'
import { MIGRATIONS, ROOM_KEYS, SCHEMA_VERSION } from './migrations.js'

export interface MigrateOptions {
  /** Stop at this version instead of the newest (staged upgrades, tests). */
  to?: number
}

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

/** A scalar subquery's document: null when it found none. */
const decodeOrNull = (text: string | null): any => text === null ? null : decode(text)

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

/** A NUL or a lone surrogate: no PostgreSQL text can hold it (22021), so no row has it as a key. */
// eslint-disable-next-line no-control-regex -- the NUL is what it looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Whether a lookup's parameters could match a row at all; a key no row can hold finds nothing, without a query. */
const storable = (params: readonly unknown[]): boolean =>
  params.every((param) => typeof param !== 'string' ? !Array.isArray(param) || storable(param) : !UNSTORABLE.test(param))

/** The documents of one collection, checked like the memory store does; a later `_id` replaces an earlier one. */
function latest<T extends { _id: string, rid?: unknown }> (collection: keyof Dump, docs: readonly T[] = []): T[] {
  for (const doc of docs) {
    if (doc === null || typeof doc !== 'object' || typeof doc._id !== 'string') {
      throw new InvalidDocumentError('PostgresStore', collection, '_id')
    }
    if (collection !== 'users' && collection !== 'rooms' && typeof doc.rid !== 'string') {
      throw new InvalidDocumentError('PostgresStore', collection, 'rid')
    }
  }
  return [...new Map(docs.map((doc) => [doc._id, doc])).values()]
}

/** A foreign key to `rooms` refusing an import, said in the dataset's terms; null for any other error. */
function orphanRefused (err: unknown): Error | null {
  const { code, constraint, detail } = err as { code?: unknown, constraint?: unknown, detail?: unknown }
  const key = code === '23503' ? ROOM_KEYS.find(({ table, column }) => constraint === `${table}_${column}_fkey`) : undefined
  if (key === undefined) return null
  return new UnknownRoomError('PostgresStore', `a document in '${key.collection}'`, key.column, ` (${String(detail)})`, { cause: err })
}

/** The schema version that adds `rooms.purging` and `purges`. */
const PURGING_SINCE = 5

type UploadsStep = 'count' | 'docs' | 'recording'

/** The erase's fixed statements for one schema: the tree walk, the uploads delete, the call deleting the rest. */
function eraseStatements (table: (name: string) => string): {
  walk: Statement
  /** The first delete, by what it hands back, and with the size probe (`sized`) or without. */
  uploads: Record<UploadsStep, Statement>
  sized: Record<UploadsStep, Statement>
  /** $1 the tree's ids, $2 hand the documents back: the other deletes, in one call (migration 6). */
  rest: Statement
} {
  // Whether the locked set ($1, the room $2 first) is still the whole tree: a room outside it
  // names one inside as its parent, or a discussion inside no longer does. Index probes, no recursion.
  const changed = `SELECT EXISTS (SELECT 1 FROM ${table('rooms')} WHERE prid = ANY($1::text[]) AND NOT (_id = ANY($1::text[])))
      OR EXISTS (SELECT 1 FROM ${table('rooms')} WHERE _id = ANY($1::text[]) AND _id <> $2 AND (prid = ANY($1::text[])) IS NOT TRUE) AS changed`
  // Whether the tree holds more than $3 rows of one kind: then it is hidden and purged, not erased here.
  const more = (name: string): string => `(SELECT count(*) FROM (SELECT 1 FROM ${table(name)} WHERE rid = ANY($1::text[]) LIMIT $3::int + 1) s) > $3::int`
  const big = `SELECT ${['messages', 'read_receipts', 'uploads'].map(more).join(' OR ')} AS big`
  const docs = '(SELECT coalesce(json_agg(doc ORDER BY _id), \'[]\')::text FROM gone) AS docs'
  const results: Record<UploadsStep, { returning: string, result: string, also: string }> = {
    count: { returning: '1', result: '(SELECT count(*) FROM gone)::int AS count', also: '' },
    docs: { returning: '_id, doc', result: docs, also: '' },
    recording: { returning: '_id, doc', result: docs, also: `,\n     ${recordPending(table)}` }
  }
  // The first delete carries those checks (one round trip less), and deletes nothing when the set changed or is big.
  const uploads = (sized: boolean): Record<UploadsStep, Statement> => Object.fromEntries(Object.entries(results).map(([key, { returning, result, also }]) => [key, statement(
    `WITH tree AS (${changed}),${sized ? `\n     size AS (${big}),` : ''}
     gone AS (DELETE FROM ${table('uploads')} WHERE rid = ANY($1::text[]) AND NOT (SELECT changed FROM tree)${sized ? ' AND NOT (SELECT big FROM size)' : ''} RETURNING ${returning})${also}
     SELECT (SELECT changed FROM tree) AS changed, ${sized ? '(SELECT big FROM size)' : 'false'} AS big, ${result}`,
    // Sized, it deletes at most $3 uploads of a kind or none (a bigger tree is purged): one plan
    // fits every call, and planning this statement anew cost more than the rest of a small erase.
    sized ? {} : { prepare: false })])) as Record<UploadsStep, Statement>
  return {
    // The room, then its discussions breadth first (a prid cycle is walked once), each locked. A
    // room being purged is gone: an erase that waited for its lock finds it so, and walks nothing.
    walk: statement(
      `WITH RECURSIVE tree (_id) AS (
         SELECT _id FROM ${table('rooms')} WHERE _id = $1 AND NOT purging
         UNION ALL
         SELECT r._id FROM ${table('rooms')} r JOIN tree ON r.prid = tree._id
       ) SEARCH BREADTH FIRST BY _id SET ord CYCLE _id SET cyclic USING path
       SELECT r._id FROM tree JOIN ${table('rooms')} r ON r._id = tree._id WHERE NOT tree.cyclic AND NOT (r._id = $1 AND r.purging)
       ORDER BY tree.ord FOR UPDATE OF r`),
    uploads: uploads(false),
    sized: uploads(true),
    rest: statement(`SELECT * FROM ${table('erase_rest')}($1, $2)`)
  }
}

/**
 * Locks the room and its discussion tree, and deletes the tree's uploads: the tree's ids (the
 * room first) and the uploads removed, or null when the room is gone; `big` (nothing deleted)
 * when the tree holds more than `batchSize` rows of one kind.
 *
 * A concurrent erase of the same room waits on the room's lock, then walks nothing: null. A row
 * added to a locked room (its foreign key takes a share lock on the room) waits for this erase
 * and then fails. A writer that got its share lock before the walk is waited for, and what it
 * committed (a new discussion) is missing from the walk, which read the tree before it waited.
 * Once every room of the set is locked no such writer is left: the next statement, whose
 * snapshot is taken after the locks, checks that the tree still is the set before it deletes
 * anything; only when it is not is the tree walked again.
 */
async function lockTree (sql: Runner, statements: ReturnType<typeof eraseStatements>, roomId: string, step: UploadsStep, batchSize: number | undefined): Promise<{ roomIds: string[], big: boolean, uploads: { docs: any[], count: number } } | null> {
  const uploads = batchSize === undefined ? statements.uploads[step] : statements.sized[step]
  for (;;) {
    const { rows: tree } = await sql.run(statements.walk, [roomId])
    if (tree.length === 0 || tree[0]._id !== roomId) return null
    const roomIds = tree.map((row) => row._id as string)
    const { rows: [first] } = await sql.run(uploads, batchSize === undefined ? [roomIds, roomId] : [roomIds, roomId, batchSize])
    if (first.changed === true) continue
    const docs: any[] = step === 'count' || first.big === true ? [] : decode(first.docs)
    return { roomIds, big: first.big === true, uploads: { docs, count: step === 'count' ? first.count : docs.length } }
  }
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
  readonly #lookup: LookupStatements
  readonly #erase: ReturnType<typeof eraseStatements>
  readonly #purge: PurgeStatements
  /** Known once true: the schema has `rooms.purging` (migration 5; never goes back). */
  #purging = false
  /** Big erases: hidden in the erase's transaction, then removed by steps (purge.ts). */
  readonly purge: PurgeSteps
  /** The blob removals erases recorded (migration 4) and nobody has finished yet (blobs.ts). */
  readonly blobs: DurableBlobs

  constructor (options: PostgresStoreOptions) {
    const { schema = 'public' } = options
    if (typeof schema !== 'string' || schema === '') throw new StoreOptionError('the option schema must be a non-empty string')
    this.#bounds = waitBounds(options)
    this.#driver = driverFor(options)
    this.#schema = schema
    const quoted = quoteIdentifier(schema)
    this.#table = (name) => `${quoted}.${name}`
    const table = this.#table
    this.#lookup = lookupStatements(table)
    this.#erase = eraseStatements(table)
    const purge = purgeStatements(table)
    this.#purge = purge
    this.blobs = {
      pending: async (limit, after = '') => await pendingBlobs(this.#driver, table, decode, limit, after),
      removed: async (uploadIds) => { await blobsRemoved(this.#driver, table, uploadIds) }
    }
    this.purge = {
      // PGlite runs each statement in the server's thread: smaller steps, so that requests are answered between them.
      batchSize: 'pglite' in options ? 1000 : 5000,
      step: async ({ batchSize, recordBlobs = false, documents = true }) =>
        await this.#driver.transaction(async (sql) => await purgeStep(sql, purge, decode, batchSize, recordBlobs, documents), this.#bounds)
    }
  }

  /** Creates the schema, or upgrades it to this release's version; safe to run again, and from several processes. */
  async migrate ({ to = SCHEMA_VERSION }: MigrateOptions = {}): Promise<void> {
    if (!Number.isInteger(to) || to < 0 || to > SCHEMA_VERSION) {
      throw new MigrateVersionError(SCHEMA_VERSION, String(to))
    }
    const table = this.#table
    await this.#driver.transaction(async (sql) => {
      // Two processes migrating at once take turns; the lock needs no table, so it comes first.
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fastify-im-delete:${this.#schema}`])
      await sql.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(this.#schema)}`)
      await sql.query(`CREATE TABLE IF NOT EXISTS ${table('schema_migrations')} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
      const current = await this.#version(sql)
      if (current > SCHEMA_VERSION) {
        throw new SchemaTooNewError(this.#schema, current, SCHEMA_VERSION)
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
    // Every room the dataset writes or writes into: none may be one being purged (its id stays taken until then).
    const named = [...new Set([
      ...(rows.rooms as Array<{ _id: string, prid: string | null }>).flatMap((room) => room.prid === null ? [room._id] : [room._id, room.prid]),
      ...(['subscriptions', 'messages', 'uploads', 'readReceipts'] as const).flatMap((name) => (rows[name] as Array<{ rid: string }>).map((row) => row.rid))
    ])]
    await this.#driver.transaction(async (sql) => {
      // Before migration 5 no room is purging (and there is no column to say so): a schema being upgraded still imports.
      this.#purging ||= await this.#version(sql) >= PURGING_SINCE
      // FOR SHARE: an erase hiding one of them waits for this import, and then hides what it wrote.
      const { rows: [purging] } = this.#purging
        ? await sql.query(`SELECT _id FROM ${table('rooms')} WHERE _id = ANY($1::text[]) AND purging FOR SHARE`, [named])
        : { rows: [] }
      if (purging !== undefined) throw new RoomPurgingError('PostgresStore', purging._id)
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

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    return await this.#find(this.#lookup.findUserByLoginToken, [userId, hashedToken])
  }

  async findUser (idOrUsername: string): Promise<User | null> {
    return await this.#find(this.#lookup.findUser, [idOrUsername])
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    return await this.#find(this.#lookup.findRoomById, [roomId])
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    return await this.#find(this.#lookup.findDirectRoom, [directRoomKey(uids)])
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    return await this.#find(this.#lookup.findSubscription, [roomId, userId])
  }

  async findNamed (key: string, subscriberId?: string): Promise<Named> {
    const params = [key, subscriberId ?? null]
    if (!storable(params)) return { user: null, room: null, subscription: null }
    const { rows: [row] } = await this.#driver.lookup(this.#lookup.findNamed, params, this.#bounds)
    return { user: decodeOrNull(row.user), room: decodeOrNull(row.room), subscription: decodeOrNull(row.subscription) }
  }

  async eraseRoom (roomId: string, { documents = true, recordBlobs = false, batchSize }: EraseOptions = {}): Promise<EraseResult | null> {
    const statements = this.#erase
    // Recorded blob removals need the uploads' documents: recording hands them back too.
    const handBack = documents || recordBlobs
    return await this.#driver.transaction(async (sql) => {
      const locked = await lockTree(sql, statements, roomId, recordBlobs ? 'recording' : handBack ? 'docs' : 'count', batchSize)
      if (locked === null) return null
      const { roomIds, uploads } = locked
      if (locked.big) return await this.#hide(sql, roomIds)
      // Rocket.Chat's order: uploads (above), messages, subscriptions, read receipts, then the
      // rooms, in one round trip. Documents come back only when someone will read them.
      const { rows: [rest] } = await sql.run(statements.rest, [roomIds, handBack])
      return {
        rooms: decode(rest.room_docs),
        uploads: uploads.docs,
        subscriptions: decode(rest.subscription_docs),
        removed: {
          messages: rest.messages,
          subscriptions: rest.subscriptions,
          uploads: uploads.count,
          readReceipts: rest.read_receipts,
          discussions: roomIds.length - 1
        }
      }
    }, this.#bounds)
  }

  /** Hides a locked tree too big to erase in one short transaction, and records its purge. */
  async #hide (sql: Runner, roomIds: string[]): Promise<EraseResult> {
    const { rows: [hidden] } = await sql.run(this.#purge.hide, [roomIds, roomIds[0]])
    const subscriptions = decode(hidden.subscriptions)
    return {
      rooms: decode(hidden.rooms),
      uploads: [],
      subscriptions,
      removed: { messages: 0, subscriptions: subscriptions.length, uploads: 0, readReceipts: 0, discussions: roomIds.length - 1 },
      purging: true
    }
  }

  async #find (lookup: Statement, params: unknown[]): Promise<any> {
    if (!storable(params)) return null
    const { rows } = await this.#driver.lookup(lookup, params, this.#bounds)
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
