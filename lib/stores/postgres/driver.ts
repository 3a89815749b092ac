import { createHash } from 'node:crypto'
import { StoreOptionError } from '../../errors.js'

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

/** One of the store's fixed statements: its text, a name that differs whenever the text does, and whether to prepare it. */
export interface Statement { readonly name: string, readonly text: string, readonly prepare: boolean }

/**
 * The text includes the schema: one connection may serve stores on several schemas. `prepare:
 * false` for a statement whose best plan depends on its parameters' size (a delete by an array
 * of room ids): after five runs PostgreSQL may keep a generic plan for a prepared statement,
 * one sized for a few rows, and use it on an erase of a hundred thousand.
 */
export function statement (text: string, { prepare = true } = {}): Statement {
  return { name: `imdel_${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`, text, prepare }
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
  off: (event: 'error', listener: ErrorListener) => unknown
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
   * Called with each error `pg` reports on an idle pooled connection (the server ended it: a
   * restart, a stop, `pg_terminate_backend`). `pg` has already dropped that connection and opens
   * a new one when one is needed. Default: nothing is logged, and the error is harmless.
   */
  onError?: (err: Error) => void
  /** Milliseconds an erase waits for a lock before it gives up (`lock_timeout`); 0: no bound. Default 3000. */
  lockTimeout?: number
  /**
   * Milliseconds any one statement of an erase may run (`statement_timeout`), and a lookup on
   * a `pg` pool may take (`pg`'s `query_timeout`: the connection is then closed); 0: no bound.
   * Default 5000.
   */
  statementTimeout?: number
  /**
   * Send the store's fixed statements as named prepared statements (default `true`): each is
   * planned once per connection instead of on every call. Set `false` behind a pooler that
   * hands one client's statements to different server connections without tracking prepared
   * statements: PgBouncer before 1.21 in `transaction` or `statement` pool mode (1.21+ with
   * `max_prepared_statements` set tracks them). Ignored on PGlite, whose `query()` has no names.
   */
  preparedStatements?: boolean
}

/** What a bounded wait answers: both in milliseconds, 0 for no bound. */
export interface WaitBounds {
  lockTimeout: number
  statementTimeout: number
}

const WAIT_BOUNDS: WaitBounds = { lockTimeout: 3000, statementTimeout: 5000 }

/** The options' bounds, checked: whole milliseconds, 0 for none. */
export function waitBounds (options: Partial<WaitBounds>): WaitBounds {
  const bounds = { ...WAIT_BOUNDS }
  for (const key of ['lockTimeout', 'statementTimeout'] as const) {
    const value = options[key] ?? WAIT_BOUNDS[key]
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new StoreOptionError(`the option ${key} must be a whole number of milliseconds (0: no bound)`)
    }
    bounds[key] = value
  }
  return bounds
}

export interface Driver extends Sql {
  /** With `bounds`, every statement of the transaction runs under them (`SET LOCAL`). */
  transaction: <T>(work: (sql: Runner) => Promise<T>, bounds?: WaitBounds) => Promise<T>
  /** A single read, given up after `statementTimeout` where the driver can do so. */
  lookup: (statement: Statement, params: unknown[], bounds: WaitBounds) => Promise<{ rows: any[] }>
  close: () => Promise<void>
}

/** pg's query with a config object (`query_timeout` is read from it; @types/pg does not list it). */
interface BoundedQuery {
  query: (config: { name?: string, text: string, values: unknown[], query_timeout: number }) => Promise<{ rows: any[] }>
}

/** Runs a statement on a pg connection, by name or by text. */
function runner (sql: PgSql, prepared: boolean): Runner['run'] {
  return prepared
    ? async (s, values) => await (s.prepare ? sql.query({ name: s.name, text: s.text, values }) : sql.query(s.text, values))
    : async (s, values) => await sql.query(s.text, values)
}

// A failed connection is dealt with where it fails (the query rejects, the pool drops it);
// with no listener its 'error' event would crash the process.
function ignoreConnectionError (): void {}

// A pooled client lives as long as its connection: it gets the listener once, whichever store uses it.
const listening = new WeakSet<PgClientLike>()

/** The statements opening a transaction, the bounds set in the same round trip (integers: safe to inline). */
function begin (bounds?: WaitBounds): string {
  return bounds === undefined
    ? 'BEGIN'
    : `BEGIN; SET LOCAL lock_timeout = ${bounds.lockTimeout}; SET LOCAL statement_timeout = ${bounds.statementTimeout}`
}

function poolDriver (connect: () => Promise<PgPoolLike>, close: () => Promise<void>, prepared: boolean): Driver {
  return {
    query: async (text, params) => await (await connect()).query(text, params),
    // pg's own per-query timer: no extra round trip. It fails the query and the pool closes the
    // connection, so nothing waits on it any more (the server ends that backend once it notices).
    lookup: async ({ name, text }, params, { statementTimeout }) =>
      await ((await connect()) as unknown as BoundedQuery).query({ ...(prepared ? { name } : {}), text, values: params, query_timeout: statementTimeout }),
    async transaction (work, bounds) {
      const client = await (await connect()).connect()
      if (!listening.has(client)) {
        client.on('error', ignoreConnectionError)
        listening.add(client)
      }
      const sql: Runner = { query: async (text, params) => await client.query(text, params), run: runner(client, prepared) }
      try {
        await client.query(begin(bounds))
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
function ownedPoolDriver (connectionString: string, onError: ErrorListener, prepared: boolean): Driver {
  let opened: Promise<PgPoolLike> | undefined
  const connect = async (): Promise<PgPoolLike> => await (opened ??= import('pg').then(({ default: pg }) => {
    const pool = new pg.Pool({ connectionString })
    pool.on('error', onError)
    return pool
  }))
  return poolDriver(connect, async () => { if (opened !== undefined) await (await opened).end() }, prepared)
}

// PGlite's query() parses and plans every statement afresh (an unnamed one each time): no names to give.
function textOf (sql: Sql): Runner {
  return { query: async (text, params) => await sql.query(text, params), run: async (s, values) => await sql.query(s.text, values) }
}

function pgliteDriver (db: PGliteLike): Driver {
  return {
    query: async (text, params) => await db.query(text, params),
    // One connection, in this process: no other session can hold a lock against it, so no bounds.
    lookup: async ({ text }, params) => await db.query(text, params),
    transaction: async (work) => await db.transaction(async (tx) => await work(textOf(tx))),
    close: async () => {}
  }
}

export function driverFor (options: PostgresStoreOptions): Driver {
  const given = (['connectionString', 'pool', 'pglite'] as const).filter((key) => (options as Record<string, unknown>)[key] !== undefined)
  if (given.length !== 1) {
    throw new StoreOptionError(`give exactly one of the options connectionString, pool or pglite (got ${given.length === 0 ? 'none' : given.join(', ')})`)
  }
  const { onError } = options
  if (onError !== undefined && typeof onError !== 'function') throw new StoreOptionError('the option onError must be a function')
  // A listener of this store's own, so close() removes exactly it.
  const listener: ErrorListener = (err) => { onError?.(err) }
  const { preparedStatements = true } = options
  if (typeof preparedStatements !== 'boolean') throw new StoreOptionError('the option preparedStatements must be a boolean')
  if ('pglite' in options) return pgliteDriver(options.pglite)
  if ('pool' in options) {
    // pg emits 'error' on the pool when an idle connection dies; with no listener that crashes
    // the process, and whether the host listens is not the store's to assume.
    const { pool } = options
    pool.on('error', listener)
    return poolDriver(async () => pool, async () => { pool.off('error', listener) }, preparedStatements)
  }
  return ownedPoolDriver(options.connectionString, listener, preparedStatements)
}

/** An identifier quoted for SQL, as PostgreSQL reads it: inner double quotes doubled. */
export function quoteIdentifier (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
