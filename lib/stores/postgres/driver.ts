import { createHash } from 'node:crypto'

type Result = Promise<{ rows: any[], rowCount?: number | null }>

/** The one thing the store asks of a driver: pg's pool, a pg client and PGlite all answer it. */
export interface Sql {
  /** `rowCount`: the rows a statement changed (pg and PGlite both count them). */
  query (text: string, params?: unknown[]): Result
}

/** pg's query config: a named statement is parsed and planned once per connection, then only bound. */
export interface NamedQuery { name: string, text: string, values: unknown[] }

/** A connection of pg's (pool or client): it also takes a named statement. */
export interface PgSql extends Sql {
  query: ((text: string, params?: unknown[]) => Result) & ((config: NamedQuery) => Result)
}

/** One of the store's fixed statements: its text, and a name that differs whenever the text does. */
export interface Statement { readonly name: string, readonly text: string }

/** The text includes the schema: one connection may serve stores on several schemas. */
export function statement (text: string): Statement {
  return { name: `imdel_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`, text }
}

/** A connection the store runs its fixed statements on, prepared or not as the options say. */
export interface Runner extends Sql {
  run: (statement: Statement, params: unknown[]) => Result
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
export interface PgClientLike extends PgSql {
  release: (destroy?: boolean) => void
  on: (event: 'error', listener: ErrorListener) => unknown
}

/**
 * The part of a `pg.Pool` the store uses, written out so that the package's types need
 * neither `pg` nor `@types/pg` (an optional peer: only a user of PostgreSQL installs it).
 */
export interface PgPoolLike extends PgSql {
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
  /**
   * Send the store's fixed statements as named prepared statements (default `true`): each is
   * planned once per connection instead of on every call. Set `false` behind a pooler that
   * hands one client's statements to different server connections without tracking prepared
   * statements: PgBouncer before 1.21 in `transaction` or `statement` pool mode (1.21+ with
   * `max_prepared_statements` set tracks them). Ignored on PGlite, whose `query()` has no names.
   */
  preparedStatements?: boolean
}

export interface Driver extends Runner {
  transaction: <T>(work: (sql: Runner) => Promise<T>) => Promise<T>
  close: () => Promise<void>
}

/** Runs a statement on a pg connection, by name or by text. */
function runner (sql: PgSql, prepared: boolean): Runner['run'] {
  return prepared
    ? async (s, values) => await sql.query({ name: s.name, text: s.text, values })
    : async (s, values) => await sql.query(s.text, values)
}

// A failed connection is dealt with where it fails (the query rejects, the pool drops it);
// with no listener its 'error' event would crash the process.
function ignoreConnectionError (): void {}

// A pooled client lives as long as its connection: it gets the listener once, whichever store uses it.
const listening = new WeakSet<PgClientLike>()

function poolDriver (connect: () => Promise<PgPoolLike>, close: () => Promise<void>, prepared: boolean): Driver {
  return {
    query: async (text, params) => await (await connect()).query(text, params),
    run: async (s, values) => await runner(await connect(), prepared)(s, values),
    async transaction (work) {
      const client = await (await connect()).connect()
      if (!listening.has(client)) {
        client.on('error', ignoreConnectionError)
        listening.add(client)
      }
      const sql: Runner = { query: async (text, params) => await client.query(text, params), run: runner(client, prepared) }
      try {
        await client.query('BEGIN')
        const result = await work(sql)
        await client.query('COMMIT')
        client.release(false)
        return result
      } catch (err) {
        // A killed connection cannot roll back (the server already did): it must not go back to the pool.
        client.release(await client.query('ROLLBACK').then(() => false, () => true))
        throw err
      }
    },
    close
  }
}

/** A pool of the store's own, opened on first use: `pg` is loaded only by those who ask for it. */
function ownedPoolDriver (connectionString: string, prepared: boolean): Driver {
  let opened: Promise<PgPoolLike> | undefined
  const connect = async (): Promise<PgPoolLike> => await (opened ??= import('pg').then(({ default: pg }) => {
    const pool = new pg.Pool({ connectionString })
    pool.on('error', ignoreConnectionError)
    return pool
  }))
  return poolDriver(connect, async () => { if (opened !== undefined) await (await opened).end() }, prepared)
}

// PGlite's query() parses and plans every statement afresh (an unnamed one each time): no names to give.
const textOf = (sql: Sql): Runner => ({ query: async (text, params) => await sql.query(text, params), run: async (s, values) => await sql.query(s.text, values) })

function pgliteDriver (db: PGliteLike): Driver {
  return {
    ...textOf(db),
    transaction: async (work) => await db.transaction(async (tx) => await work(textOf(tx))),
    close: async () => {}
  }
}

export function driverFor (options: PostgresStoreOptions): Driver {
  const given = (['connectionString', 'pool', 'pglite'] as const).filter((key) => (options as Record<string, unknown>)[key] !== undefined)
  if (given.length !== 1) {
    throw new TypeError(`PostgresStore: give exactly one of the options connectionString, pool or pglite (got ${given.length === 0 ? 'none' : given.join(', ')})`)
  }
  const { preparedStatements = true } = options
  if (typeof preparedStatements !== 'boolean') throw new TypeError('PostgresStore: the option preparedStatements must be a boolean')
  if ('pglite' in options) return pgliteDriver(options.pglite)
  if ('pool' in options) {
    const { pool } = options
    return poolDriver(async () => pool, async () => {}, preparedStatements)
  }
  return ownedPoolDriver(options.connectionString, preparedStatements)
}

/** An identifier quoted for SQL, as PostgreSQL reads it: inner double quotes doubled. */
export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
