import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { PostgresStore } from '../../index.js'

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

/** PGlite, and the real server when it can be reached. */
export async function backends (t: Tap): Promise<Backend[]> {
  const embedded = await pglite(t)
  const real = await server(t)
  return real === null ? [embedded] : [embedded, real]
}
