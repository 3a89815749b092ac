import { setTimeout as sleep } from 'node:timers/promises'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { PostgresStore } from '../../postgres.js'

export const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A PostgreSQL to run tests on: PGlite in the process, or the real server. */
export interface Backend {
  name: string
  /** Raw SQL on the same database, outside any store: to inject faults and read plans. */
  query: (text: string, params?: unknown[]) => Promise<{ rows: any[] }>
  /** Options that give a store this database (schema aside). */
  options: { pool: pg.Pool } | { pglite: PGlite }
  /** A store on a new schema of its own, migrated unless told otherwise; teardown drops the schema. */
  fresh: (migrate?: boolean) => Promise<{ store: PostgresStore, schema: string, teardown: () => Promise<void> }>
}

interface Tap {
  comment: (message: string) => void
  fail: (message: string) => void
  teardown: (fn: () => Promise<void>) => void
  setTimeout: (ms: number) => void
}

let schemas = 0

function backend (name: string, options: Backend['options'], query: Backend['query']): Backend {
  return {
    name,
    query,
    options,
    async fresh (migrate = true) {
      const schema = `im_delete_test_${process.pid}_${++schemas}`
      const store = new PostgresStore({ ...options, schema })
      if (migrate) await store.migrate()
      return { store, schema, teardown: async () => { await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) } }
    }
  }
}

/** The real server, or null when it cannot be reached (a failure in CI, which must never go without it). */
export async function server (t: Tap): Promise<Backend | null> {
  const pool = new pg.Pool({ connectionString: SERVER_URL, connectionTimeoutMillis: 5000 })
  try {
    await pool.query('SELECT 1')
  } catch (err) {
    await pool.end()
    const reason = `${(err as Error).message} (${SERVER_URL.replace(/\/\/[^@/]*@/, '//')})`
    if (process.env.CI !== undefined && process.env.CI !== '') t.fail(`CI needs the PostgreSQL server and cannot reach it: ${reason}`)
    else t.comment(`PostgreSQL server run not done: ${reason}`)
    return null
  }
  t.teardown(async () => { await pool.end() })
  return backend('PostgreSQL server', { pool }, async (text, params) => await pool.query(text, params))
}

/** PGlite in this process. */
export async function pglite (t: Tap): Promise<Backend> {
  // Starting PGlite runs initdb in WebAssembly: many seconds on a busy two-core machine.
  t.setTimeout(180_000)
  const db = await PGlite.create()
  t.teardown(async () => { await db.close() })
  return backend('PGlite', { pglite: db }, async (text, params) => await db.query(text, params))
}

export interface PoolDouble {
  /** How each client handed out so far was released: `true` when it was destroyed. */
  releases: boolean[]
  /** Makes the next ROLLBACK fail, as on a connection the server already dropped. */
  failNextRollback: () => void
}

/**
 * PGlite behind the part of `pg.Pool` the store uses, so the pool code path runs on every
 * machine, server or not. PGlite is one connection: a client holds it until released.
 */
export function poolOver (db: PGlite): { pool: pg.Pool, double: PoolDouble } {
  let free: Promise<void> = Promise.resolve()
  const acquire = async (): Promise<() => void> => {
    const previous = free
    let unlock = (): void => {}
    free = new Promise((resolve) => { unlock = resolve })
    await previous
    return unlock
  }
  // pg's named statements arrive as a query config; PGlite is given the text (it plans every query anyway).
  const textOf = (query: string | { text: string, values?: unknown[] }, params?: unknown[]): [string, unknown[] | undefined] =>
    typeof query === 'string' ? [query, params] : [query.text, query.values]
  let rollbackFails = false
  const double: PoolDouble = { releases: [], failNextRollback: () => { rollbackFails = true } }
  const pool = {
    on: () => pool,
    off: () => pool,
    end: async () => {},
    // pg's two forms: (text, values) and a config object (named statements, bounded lookups).
    async query (query: string | { text: string, values?: unknown[] }, params?: unknown[]) {
      const unlock = await acquire()
      try { return await db.query(...textOf(query, params)) } finally { unlock() }
    },
    async connect () {
      const unlock = await acquire()
      const listeners = new Set<(err: Error) => void>()
      const client = {
        on: (_event: 'error', listener: (err: Error) => void) => { listeners.add(listener); return client },
        async query (query: string | { text: string, values?: unknown[] }, params?: unknown[]) {
          const [text, values] = textOf(query, params)
          if (text === 'ROLLBACK' && rollbackFails) {
            rollbackFails = false
            await db.query('ROLLBACK')
            // As pg does when the server drops a connection: an 'error' event, then the query fails.
            const err = new Error('Connection terminated unexpectedly')
            for (const listener of listeners) listener(err)
            throw err
          }
          // pg sends a query without values as a simple query (several statements allowed), like exec.
          if (values === undefined) {
            const results = await db.exec(text)
            return results.length === 1 ? results[0] : results
          }
          return await db.query(text, values)
        },
        release (destroy?: boolean) {
          double.releases.push(destroy === true)
          unlock()
        }
      }
      return client
    }
  }
  return { pool: pool as unknown as pg.Pool, double }
}

/** PGlite (directly, and through the pg pool code path), and the real server when it can be reached. */
export async function backends (t: Tap): Promise<Backend[]> {
  const embedded = await pglite(t)
  const { pool } = poolOver((embedded.options as { pglite: PGlite }).pglite)
  const pooled = backend('PGlite through a pg pool', { pool }, async (text, params) => await pool.query(text, params))
  const real = await server(t)
  return real === null ? [embedded, pooled] : [embedded, pooled, real]
}

/**
 * The session waiting on a lock that the backend `holder` holds, once there is one: how a test
 * knows a racing statement has reached the point it means to race. Polls for at most ~10 s,
 * then resolves to undefined (the test's assertions on it fail; nothing hangs).
 */
export async function blockedBy (query: Backend['query'], holder: number): Promise<{ pid: number, query: string } | undefined> {
  for (let tries = 0; tries < 1000; tries++) {
    const { rows } = await query('SELECT pid, query FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [holder])
    if (rows.length > 0) return rows[0]
    await sleep(10)
  }
  return undefined
}

/** Another session on the server, in a transaction of its own (rolled back at the end of the test). */
export async function session (t: Tap, real: Backend): Promise<{ client: pg.PoolClient, pid: number }> {
  const client = await (real.options as { pool: pg.Pool }).pool.connect()
  t.teardown(async () => { await client.query('ROLLBACK').catch(() => {}); client.release() })
  const { rows: [{ pid }] } = await client.query('SELECT pg_backend_pid() AS pid')
  await client.query('BEGIN')
  return { client, pid }
}
