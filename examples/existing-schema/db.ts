import { readFile } from 'node:fs/promises'
import type { PGlite } from '@electric-sql/pglite'
import type { Pool } from 'pg'

/** A named statement: pg prepares it once per connection and reuses the plan. */
export interface Statement {
  name: string
  text: string
  values?: unknown[]
}

export type Query = (statement: Statement) => Promise<{ rows: any[], rowCount?: number | null }>

/** The seam between the chat server's code and its driver: a pg pool or PGlite. */
export interface Db {
  query: Query
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it rejects. */
  transaction: <T>(work: (query: Query) => Promise<T>) => Promise<T>
  /** Runs a script of several statements (the schema). */
  exec: (script: string) => Promise<void>
}

export function fromPool (pool: Pool): Db {
  return {
    query: async (statement) => await pool.query(statement),
    async transaction (work) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await work(async (statement) => await client.query(statement))
        await client.query('COMMIT')
        client.release()
        return result
      } catch (err) {
        // A connection that cannot even roll back is broken: it must not go back to the pool.
        const [rollback] = await Promise.allSettled([client.query('ROLLBACK')])
        client.release(rollback.status === 'rejected')
        throw err
      }
    },
    exec: async (script) => { await pool.query(script) }
  }
}

export function fromPGlite (pglite: PGlite): Db {
  // PGlite has one connection and no named statements: the name is only pg's cache key.
  return {
    query: async ({ text, values }) => await pglite.query(text, values),
    transaction: async (work) => await pglite.transaction(async (tx) => await work(async ({ text, values }) => await tx.query(text, values))),
    exec: async (script) => { await pglite.exec(script) }
  }
}

/** Creates the chat server's tables where they do not exist yet. */
export async function migrate (db: Db): Promise<void> {
  await db.exec(await readFile(new URL('schema.sql', import.meta.url), 'utf8'))
}
