// Deliberately broken stores: each breaks one promise of the store contract, so the kit must fail it.
import type { EraseOptions, EraseResult, Named, PurgeStep, PurgeStepOptions, Room, Subscription, Upload, User } from '../../index.js'
import type { PgPoolLike, PGliteLike, Sql } from '../../lib/stores/postgres/driver.js'
import { PostgresStore } from '../../postgres.js'
import { hashLoginToken } from '../../index.js'
import type { KitTarget } from '../../lib/test-kit/index.js'
import type { Db } from '../../examples/existing-schema/db.js'
import { chatStoreTarget } from '../../examples/existing-schema/kit-harness.js'
import { ChatStore } from '../../examples/existing-schema/store.js'
import { FaultyMemoryStore } from './app.js'

/** How a SQL erase over PostgresStore's tables is broken; none set: a correct erase (the control). */
export interface SqlFlaws {
  /** Each DELETE commits on its own. */
  perTable?: boolean
  /** No transaction at all; "already gone" read from the row count of the rooms' DELETE. */
  noTransaction?: boolean
  /** The walk takes no row lock (FOR UPDATE): concurrent erases both walk the tree. */
  noLock?: boolean
  /** Locks the room's row only, not its discussions': a post written into a discussion meanwhile is not held off. */
  locksOnlyRoot?: boolean
  /** "Already gone" read from the row count of the rooms' DELETE (implied by noTransaction). */
  goneFromRowCount?: boolean
  /** How deep the walk goes below the room: 0 forgets discussions, 1 forgets nested ones. */
  depth?: number
  forgetsReplies?: boolean
  forgetsUploadsWithoutMessage?: boolean
  forgetsReadReceipts?: boolean
  /** Resolves to null when the room held no message (reads "gone" from the messages' row count). */
  goneWhenNoMessages?: boolean
}

type Options = { pool: PgPoolLike } | { pglite: PGliteLike }

interface Exec extends Sql {
  transaction: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>
}

function execFor (options: Options): Exec {
  if ('pglite' in options) return options.pglite
  const { pool } = options
  return {
    query: async (text, params) => await pool.query(text, params),
    async transaction (work) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK')
        throw err
      } finally {
        client.release()
      }
    }
  }
}

/** PostgresStore's lookups and loader, with an erase of its own written out in plain SQL, flawed as told. */
export class SqlMutant extends PostgresStore {
  readonly #exec: Exec
  readonly #schema: string
  readonly #flaws: SqlFlaws

  constructor (options: Options, schema: string, flaws: SqlFlaws) {
    super({ ...options, schema })
    // Its erase is whole, always: it does not purge.
    Object.defineProperty(this, 'purge', { value: undefined })
    this.#exec = execFor(options)
    this.#schema = schema
    this.#flaws = flaws
  }

  async eraseRoom (roomId: string, { documents = true }: EraseOptions = {}): Promise<EraseResult | null> {
    const flaws = this.#flaws
    const exec = this.#exec
    if (flaws.noTransaction === true) return await this.#erase(exec, roomId, documents)
    if (flaws.perTable === true) return await this.#erase({ query: async (text, params) => await exec.transaction(async (sql) => await sql.query(text, params)) }, roomId, documents)
    return await exec.transaction(async (sql) => await this.#erase(sql, roomId, documents))
  }

  async #erase (sql: Sql, roomId: string, documents: boolean): Promise<EraseResult | null> {
    const s = this.#schema
    const flaws = this.#flaws
    if (flaws.locksOnlyRoot === true) await sql.query(`SELECT 1 FROM ${s}.rooms WHERE _id = $1 FOR UPDATE`, [roomId])
    const { rows: tree } = await sql.query(
      `WITH RECURSIVE tree (_id, depth) AS (
         SELECT _id, 0 FROM ${s}.rooms WHERE _id = $1
         UNION ALL
         SELECT r._id, tree.depth + 1 FROM ${s}.rooms r JOIN tree ON r.prid = tree._id WHERE tree.depth < $2
       ) CYCLE _id SET cyclic USING path
       SELECT r._id FROM tree JOIN ${s}.rooms r ON r._id = tree._id WHERE NOT tree.cyclic
       ORDER BY tree.depth, r._id ${flaws.noLock === true || flaws.locksOnlyRoot === true ? '' : 'FOR UPDATE OF r'}`,
      [roomId, flaws.depth ?? 1000])
    if (tree.length === 0) return null
    const ids = tree.map((row) => row._id as string)
    const remove = async (table: string, also = ''): Promise<any[]> =>
      (await sql.query(`DELETE FROM ${s}.${table} WHERE rid = ANY($1::text[]) ${also} RETURNING doc::text AS doc`, [ids])).rows.map((row) => JSON.parse(row.doc))
    const uploads = await remove('uploads', flaws.forgetsUploadsWithoutMessage === true
      ? `AND _id IN (SELECT f->>'_id' FROM ${s}.messages m, jsonb_array_elements(m.doc->'files') f WHERE m.rid = ANY($1::text[]))`
      : '')
    const messages = await remove('messages', flaws.forgetsReplies === true ? "AND doc->>'tmid' IS NULL" : '')
    const subscriptions = await remove('subscriptions')
    const readReceipts = flaws.forgetsReadReceipts === true ? [] : await remove('read_receipts')
    const { rows } = await sql.query(`DELETE FROM ${s}.rooms WHERE _id = ANY($1::text[]) RETURNING _id, doc::text AS doc`, [ids])
    if ((flaws.noTransaction === true || flaws.goneFromRowCount === true) && rows.length === 0) return null
    if (flaws.goneWhenNoMessages === true && messages.length === 0) return null
    const rooms = ids.flatMap((id) => rows.filter((row) => row._id === id).map((row) => JSON.parse(row.doc) as Room))
    return {
      rooms: documents ? rooms : [],
      uploads: documents ? uploads : [],
      subscriptions: documents ? subscriptions : [],
      removed: { messages: messages.length, subscriptions: subscriptions.length, uploads: uploads.length, readReceipts: readReceipts.length, discussions: rooms.length - 1 }
    }
  }
}

/** MemoryStore that erases only the room it is given: its discussions are cut loose first, and stay. */
export class ForgetsDiscussionsMemory extends FaultyMemoryStore {
  async eraseRoom (roomId: string, options?: EraseOptions): Promise<EraseResult | null> {
    const discussions = (await this.dump()).rooms.filter((room) => room.prid === roomId)
    await this.import({ rooms: discussions.map(({ prid, ...room }) => room) })
    return await super.eraseRoom(roomId, options)
  }
}

/** MemoryStore whose DM lookup takes any DM holding the members asked for (a superset match). */
export class SupersetDirectMemory extends FaultyMemoryStore {
  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const rooms = (await this.dump()).rooms.filter((room) => room.t === 'd' && uids.every((uid) => room.uids?.includes(uid) === true))
    return rooms[0] ?? null
  }
}

/** MemoryStore whose token lookup lets a deactivated user in. */
export class LetsDeactivatedInMemory extends FaultyMemoryStore {
  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    const user = (await this.dump()).users.find((u) => u._id === userId)
    return user?.services?.resume?.loginTokens?.some((token) => token.hashedToken === hashedToken) === true ? user : null
  }
}

/** MemoryStore whose subscription lookup hides a membership its user closed (`open: false`), as a query filtering on `open` would. */
export class HidesClosedMemory extends FaultyMemoryStore {
  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    const sub = await super.findSubscription(roomId, userId)
    return sub?.open === false ? null : sub
  }
}

/** MemoryStore that answers an erase of a missing room with an empty result instead of null. */
export class EmptyNotNullMemory extends FaultyMemoryStore {
  async eraseRoom (roomId: string): Promise<EraseResult | null> {
    return await super.eraseRoom(roomId) ??
      { rooms: [], uploads: [], subscriptions: [], removed: { messages: 0, subscriptions: 0, uploads: 0, readReceipts: 0, discussions: 0 } }
  }
}

/** MemoryStore that finds a user by username before _id. */
export class UsernameFirstMemory extends FaultyMemoryStore {
  async findUser (idOrUsername: string): Promise<User | null> {
    return (await this.dump()).users.find((user) => user.username === idOrUsername) ?? await super.findUser(idOrUsername)
  }
}

/** MemoryStore whose findNamed (not findUser) finds a user by username before _id. */
export class NamedUsernameFirstMemory extends FaultyMemoryStore {
  async findNamed (key: string, subscriberId?: string): Promise<Named> {
    const named = await super.findNamed(key, subscriberId)
    return { ...named, user: (await this.dump()).users.find((user) => user.username === key) ?? named.user }
  }
}

/** MemoryStore whose findNamed hands back any member's subscription to the room, not the subscriber's. */
export class NamedAnySubscriberMemory extends FaultyMemoryStore {
  async findNamed (key: string, subscriberId?: string): Promise<Named> {
    const named = await super.findNamed(key, subscriberId)
    const any = (await this.dump()).subscriptions.find((sub) => sub.rid === key)
    return { ...named, subscription: subscriberId === undefined || any === undefined ? named.subscription : any }
  }
}

/** MemoryStore whose DM lookup reads every stored room, those being purged too. */
export class SeesPurgingMemory extends FaultyMemoryStore {
  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const key = [...new Set(uids)].sort().join()
    return (await this.dump()).rooms.find((room) => room.t === 'd' && [...new Set(room.uids)].sort().join() === key) ?? null
  }
}

/** Replaces a store's purge steps with `wrap` around them. */
function wrapSteps (store: FaultyMemoryStore, wrap: (step: PurgeStep | null) => PurgeStep | null): void {
  const steps = store.purge
  Object.defineProperty(store, 'purge', { value: { step: async (options: PurgeStepOptions) => wrap(await steps.step(options)) } })
}

/** MemoryStore whose failing purge step keeps its batch: it runs the step again, unfailing, then rejects. */
export class StepKeepsBatchMemory extends FaultyMemoryStore {
  constructor () {
    super()
    const steps = this.purge
    Object.defineProperty(this, 'purge', {
      value: {
        async step (options: PurgeStepOptions) {
          try {
            return await steps.step(options)
          } catch (err) {
            await steps.step(options)
            throw err
          }
        }
      }
    })
  }
}

/** MemoryStore whose purge says it is finished after its first step, rows left or not. */
export class FinishesEarlyMemory extends FaultyMemoryStore {
  constructor () {
    super()
    wrapSteps(this, (step) => step === null ? null : { ...step, finished: step.finished ?? { messages: 0, subscriptions: 0, uploads: 0, readReceipts: 0, discussions: 0 } })
  }
}

/** MemoryStore whose purge hands each step's uploads out again with the next step's. */
export class RepeatsUploadsMemory extends FaultyMemoryStore {
  constructor () {
    super()
    let last: Upload[] = []
    wrapSteps(this, (step) => {
      if (step === null) return null
      const uploads = [...last, ...step.uploads]
      last = step.uploads
      return { ...step, uploads }
    })
  }
}

/** MemoryStore that erases a DM whole whatever its batch size, yet has purge: nothing is ever hidden. */
export class NeverHidesMemory extends FaultyMemoryStore {
  async eraseRoom (roomId: string, options?: EraseOptions): Promise<EraseResult | null> {
    return await super.eraseRoom(roomId, { ...options, batchSize: undefined })
  }
}

/** MemoryStore whose user lookup fails on a NUL, as a SQL store that sends it to PostgreSQL does (22021). */
export class RejectsNulMemory extends FaultyMemoryStore {
  async findUser (idOrUsername: string): Promise<User | null> {
    if (idOrUsername.includes('\u0000')) throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' })
    return await super.findUser(idOrUsername)
  }
}

/** MemoryStore whose purge steps find nothing to do: a hidden DM is never purged. */
export class StepsNothingMemory extends FaultyMemoryStore {
  constructor () {
    super()
    wrapSteps(this, () => null)
  }
}

/** MemoryStore whose purge steps never say the purge is finished. */
export class NeverFinishesMemory extends FaultyMemoryStore {
  constructor () {
    super()
    wrapSteps(this, (step) => ({ roomId: step?.roomId ?? 'alicebob', uploads: step?.uploads ?? [], finished: null }))
  }
}

// The example's accounts hold sessions with an expiry (examples/existing-schema/schema.sql): a
// store over them that serves the default authenticate must read the expiry.

/** ChatStore with the default authenticate's token lookup over the example's sessions; with `ignoresExpiry`, an expired session still counts. */
export class SessionChatStore extends ChatStore {
  readonly #db: Db
  readonly #ignoresExpiry: boolean

  constructor (db: Db, ignoresExpiry: boolean) {
    super(db)
    this.#db = db
    this.#ignoresExpiry = ignoresExpiry
  }

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    const { rows } = await this.#db.query({
      name: 'session-by-hash',
      text: `SELECT a.id, a.username, a.roles FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.account_id::text = $1 AND encode(s.token_sha256, 'base64') = $2 AND a.deactivated_at IS NULL
             ${this.#ignoresExpiry ? '' : 'AND s.expires_at > now()'}`,
      values: [userId, hashedToken]
    })
    return rows.length === 0 ? null : { _id: rows[0].id, username: rows[0].username ?? undefined, roles: rows[0].roles, active: true }
  }
}

/**
 * The example's kit harness with SessionChatStore (no fault armed: for the token cases only): the
 * world's login tokens loaded as sessions; a token expires when its session does.
 */
export function sessionTarget (db: Db, ignoresExpiry: boolean, teardown?: () => Promise<void>): KitTarget {
  const target = { ...chatStoreTarget(db, teardown), store: new SessionChatStore(db, ignoresExpiry) }
  const id = (kitId: string): string => target.idOf?.('user', kitId) ?? kitId
  const session = async (text: string, values: unknown[]): Promise<void> => { await db.query({ name: '', text, values }) }
  return {
    ...target,
    async load (world) {
      await target.load(world)
      for (const user of world.users ?? []) {
        for (const { hashedToken } of user.services?.resume?.loginTokens ?? []) {
          await session("INSERT INTO sessions (token_sha256, account_id, expires_at) VALUES (decode($1, 'base64'), $2, now() + interval '1 day')", [hashedToken, id(user._id)])
        }
      }
    },
    expireToken: async (userId, token) => {
      await session("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE account_id = $1 AND token_sha256 = decode($2, 'base64')", [id(userId), hashLoginToken(token)])
    }
  }
}
