/** The one thing the store asks of a driver: pg's pool, a pg client and PGlite all answer it. */
export interface Sql {
  /** `rowCount`: the rows a statement changed (pg and PGlite both count them). */
  query (text: string, params?: unknown[]): Promise<{ rows: any[], rowCount?: number | null }>
}

/**
 * The part of a `@electric-sql/pglite` instance the store uses, written out so that the
 * package's types do not require PGlite (an optional peer) to be installed.
 */
export interface PGliteLike extends Sql {
  transaction: <T>(work: (tx: Sql) => Promise<T>) => Promise<T>
}

type ErrorListener = (err: Error) => void

/** The part of a `pg` pool's client the store uses; `pg`'s `PoolClient` is one. */
export interface PgClientLike extends Sql {
  release: (destroy?: boolean) => void
  on: (event: 'error', listener: ErrorListener) => unknown
  off: (event: 'error', listener: ErrorListener) => unknown
}

/**
 * The part of a `pg.Pool` the store uses, written out so that the package's types need
 * neither `pg` nor `@types/pg` (an optional peer: only a user of PostgreSQL installs it).
 */
export interface PgPoolLike extends Sql {
  connect: () => Promise<PgClientLike>
  on: (event: 'error', listener: ErrorListener) => unknown
  off: (event: 'error', listener: ErrorListener) => unknown
  end: () => Promise<void>
}

export type PostgresStoreOptions = (
  | { connectionString: string }
  | { pool: PgPoolLike }
  | { pglite: PGliteLike }
) & {
  /** The PostgreSQL schema holding the tables (created by `migrate()`); default `public`. */
  schema?: string
}

export interface Driver extends Sql {
  transaction: <T>(work: (sql: Sql) => Promise<T>) => Promise<T>
  close: () => Promise<void>
}

// A failed connection is dealt with where it fails (the query rejects, the pool drops it);
// with no listener its 'error' event would crash the process.
function ignoreConnectionError (): void {}

function poolDriver (connect: () => Promise<PgPoolLike>, close: () => Promise<void>): Driver {
  return {
    query: async (text, params) => await (await connect()).query(text, params),
    async transaction (work) {
      const client = await (await connect()).connect()
      client.on('error', ignoreConnectionError)
      const release = (destroy: boolean): void => {
        client.off('error', ignoreConnectionError)
        client.release(destroy)
      }
      try {
        await client.query('BEGIN')
        const result = await work(client)
        await client.query('COMMIT')
        release(false)
        return result
      } catch (err) {
        // A killed connection cannot roll back (the server already did): it must not go back to the pool.
        release(await client.query('ROLLBACK').then(() => false, () => true))
        throw err
      }
    },
    close
  }
}

/** A pool of the store's own, opened on first use: `pg` is loaded only by those who ask for it. */
function ownedPoolDriver (connectionString: string): Driver {
  let opened: Promise<PgPoolLike> | undefined
  const connect = async (): Promise<PgPoolLike> => await (opened ??= import('pg').then(({ default: pg }) => {
    const pool = new pg.Pool({ connectionString })
    pool.on('error', ignoreConnectionError)
    return pool
  }))
  return poolDriver(connect, async () => { if (opened !== undefined) await (await opened).end() })
}

function pgliteDriver (db: PGliteLike): Driver {
  return {
    query: async (text, params) => await db.query(text, params),
    transaction: async (work) => await db.transaction(async (tx) => await work(tx)),
    close: async () => {}
  }
}

export function driverFor (options: PostgresStoreOptions): Driver {
  const given = (['connectionString', 'pool', 'pglite'] as const).filter((key) => (options as Record<string, unknown>)[key] !== undefined)
  if (given.length !== 1) {
    throw new TypeError(`PostgresStore: give exactly one of the options connectionString, pool or pglite (got ${given.length === 0 ? 'none' : given.join(', ')})`)
  }
  if ('pglite' in options) return pgliteDriver(options.pglite)
  if ('pool' in options) {
    const { pool } = options
    return poolDriver(async () => pool, async () => {})
  }
  return ownedPoolDriver(options.connectionString)
}

/** An identifier quoted for SQL, as PostgreSQL reads it: inner double quotes doubled. */
export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
