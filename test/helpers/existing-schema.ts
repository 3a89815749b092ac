import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { fromPGlite, fromPool, migrate, type Db } from '../../examples/existing-schema/db.js'
import { SERVER_URL } from './postgres.js'

let schemas = 0
const schemaName = (): string => `chat_example_${process.pid}_${++schemas}`

export interface ChatDb {
  db: Db
  schema: string
  /** The pool behind `db` (real server only): its connections all see only this schema. */
  pool?: pg.Pool
  teardown: () => Promise<void>
}

/**
 * The example's tables in a new schema of their own on the real server, reached through a pool
 * whose every connection has that schema as its search_path: the store names no schema, as in
 * a chat server that keeps its tables in `public`.
 */
export async function serverSchema (admin: pg.Pool): Promise<ChatDb> {
  const schema = schemaName()
  await admin.query(`CREATE SCHEMA ${schema}`)
  const pool = new pg.Pool({ connectionString: SERVER_URL, options: `-c search_path=${schema}`, connectionTimeoutMillis: 10_000 })
  const db = fromPool(pool)
  await migrate(db)
  return {
    db,
    schema,
    pool,
    teardown: async () => {
      await pool.end()
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    }
  }
}

/** The same on PGlite: one connection, so the schema is its search_path until the next case's. */
export async function pgliteSchema (pglite: PGlite): Promise<ChatDb> {
  const schema = schemaName()
  await pglite.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`)
  const db = fromPGlite(pglite)
  await migrate(db)
  return { db, schema, teardown: async () => { await pglite.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; SET search_path TO public`) } }
}
