// The kit's targets for this repository's stores: MemoryStore, and PostgresStore on any backend,
// each with the fault the kit arms (after the k-th write of the next erase) and a message writer.
import { hashLoginToken, type User } from '../../index.js'
import type { FaultyMemoryStore } from './app.js'
import type { NamedQuery, PgClientLike, PgPoolLike, PgSql, PGliteLike, Sql } from '../../lib/stores/postgres/driver.js'
import { KitFault, storeConformance, type KitKind, type KitOptions, type KitReport, type KitTarget, type KitTest } from '../../lib/test-kit/index.js'
import type { Dataset, Dump } from '../../index.js'
import { PostgresStore } from '../../postgres.js'
import { ROOM_KEYS } from '../../lib/stores/postgres/migrations.js'
import type { Backend } from './postgres.js'

/** A login token no longer counts in Rocket.Chat's terms when it is gone from the user: re-imported without it. */
async function revokeToken (store: { dump: () => Promise<Dump>, import: (dataset: Dataset) => Promise<void> }, userId: string, token: string): Promise<void> {
  const user = (await store.dump()).users.find((doc) => doc._id === userId) as User
  const loginTokens = user.services?.resume?.loginTokens?.filter((held) => held.hashedToken !== hashLoginToken(token))
  await store.import({ users: [{ ...user, services: { ...user.services, resume: { ...user.services?.resume, loginTokens } } }] })
}

const KINDS: Record<Exclude<KitKind, 'user'>, keyof Dump> = {
  room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'readReceipts'
}

/** A kit target over a memory store: load is import, ids are read from a dump, the fault is the store's. */
export function documentTarget<S extends FaultyMemoryStore> (store: S): KitTarget<S> {
  return {
    store,
    load: async (world: Dataset) => { await store.import(world) },
    ids: async (kind) => (await store.dump())[KINDS[kind]].map((doc) => doc._id),
    failNextErase: (afterWrites) => { store.fault.arm(afterWrites) },
    faultFired: () => store.fault.fired(),
    // As a chat server over MemoryStore writes: an import, which refuses a message whose room is gone.
    writeMessage: async (message) => { await store.import({ messages: [{ ...message, msg: 'a message sent while the room is erased' }] }) },
    expireToken: async (userId, token) => { await revokeToken(store, userId, token) }
  }
}

// The store's deletes, the uploads one carrying the tree re-check (`WITH tree AS (…), gone AS (DELETE …`),
// and the call of the erase's function deleting the rest (migration 6).
const isDelete = (text: string): boolean => /^\s*(WITH\s+(tree\s+AS\s+\(.*?\)\s*,\s*)?gone\s+AS\s+\(\s*)?DELETE\b|\.erase_rest\(/is.test(text)

/** SQL that tells the fault of every DELETE it ran; pg's named statements arrive as a query config. */
function faulty<T extends Sql> (sql: T, fault: KitFault): PgSql {
  return {
    async query (query: string | NamedQuery, params?: unknown[]) {
      const result = await (sql as unknown as PgSql).query(query as string, params)
      if (isDelete(typeof query === 'string' ? query : query.text)) fault.wrote()
      return result
    }
  } as PgSql
}

/** Store options on a backend whose DELETE statements, in and out of transactions, feed the fault. */
export function faultyOptions (backend: Backend, fault: KitFault): { pool: PgPoolLike } | { pglite: PGliteLike } {
  if ('pglite' in backend.options) {
    const db = backend.options.pglite
    return {
      pglite: {
        query: faulty(db, fault).query,
        transaction: async (work) => await db.transaction(async (tx) => await work(faulty(tx, fault)))
      }
    }
  }
  const pool = backend.options.pool as unknown as PgPoolLike
  return {
    pool: {
      query: faulty(pool, fault).query,
      async connect () {
        const client = await pool.connect()
        const wrapped: PgClientLike = {
          query: faulty(client, fault).query,
          release: (destroy) => { client.release(destroy) },
          on: (event, listener) => client.on(event, listener),
          off: (event, listener) => client.off(event, listener)
        }
        return wrapped
      },
      on: (event, listener) => pool.on(event, listener),
      off: (event, listener) => pool.off(event, listener),
      end: async () => {}
    }
  }
}

let schemas = 0

const TABLES: Record<Exclude<KitKind, 'user'>, string> = {
  room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'read_receipts'
}

/** A kit target: a store made by `make` over a new schema of the backend (dropped at teardown). */
export async function sqlTarget<S extends PostgresStore> (
  backend: Backend,
  make: (options: { pool: PgPoolLike } | { pglite: PGliteLike }, schema: string) => S,
  { foreignKeys = true }: { foreignKeys?: boolean } = {}
): Promise<KitTarget<S>> {
  const fault = new KitFault()
  const schema = `im_delete_kit_${process.pid}_${++schemas}`
  const store = make(faultyOptions(backend, fault), schema)
  await store.migrate()
  // A host schema without foreign keys: nothing but the store keeps rows from outliving their room.
  if (!foreignKeys) {
    for (const { table, column } of ROOM_KEYS) await backend.query(`ALTER TABLE ${schema}.${table} DROP CONSTRAINT ${table}_${column}_fkey`)
  }
  return {
    store,
    load: async (world) => { await store.import(world) },
    ids: async (kind) => (await backend.query(`SELECT _id FROM ${schema}.${TABLES[kind]}`)).rows.map((row) => row._id),
    failNextErase: (afterWrites) => { fault.arm(afterWrites) },
    faultFired: () => fault.fired(),
    // As a chat server writes: one INSERT of its own, outside the store.
    async writeMessage (message) {
      await backend.query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ($1, $2, $3::jsonb)`,
        [message._id, message.rid, JSON.stringify({ ...message, msg: 'a message sent while the room is erased' })])
    },
    expireToken: async (userId, token) => { await revokeToken(store, userId, token) },
    teardown: async () => {
      // close() leaves a pool it was given open, and stops listening to it.
      await store.close()
      await backend.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    }
  }
}

export const postgresTarget = async (backend: Backend): Promise<KitTarget<PostgresStore>> =>
  await sqlTarget(backend, (options, schema) => new PostgresStore({ ...options, schema }))

/** The kit run under a test function that only gathers: failures as `case > check` lines, and the cases skipped, with why. */
export async function collect (options: KitOptions): Promise<{ failures: string[], skipped: string[], report: KitReport }> {
  const failures: string[] = []
  const skipped: string[] = []
  const test: KitTest = async (name, { skip }, fn) => {
    if (skip !== undefined) {
      skipped.push(`${name} (${skip})`)
      return
    }
    // A failing case throws every check that failed (`actual`).
    await fn({ test }).catch((err: { actual?: string[] }) => { failures.push(...(err.actual ?? [String(err)]).map((message) => `${name} > ${message}`)) })
  }
  const report = await storeConformance(test, options)
  return { failures, skipped, report }
}
