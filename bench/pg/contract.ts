import type pg from 'pg'
import type { Dataset, ImDeleteStore } from '../../index.js'

/**
 * The PostgreSQL store as the benchmark sees it, opened on one schema of the benchmark
 * database. bench/pg/store-adapter.ts provides it (pending: see that file).
 */
export interface OpenedStore {
  store: ImDeleteStore
  /** Creates the store's tables and indexes in the (existing, empty) schema: `migrate()`. */
  createTables: () => Promise<void>
  /** Adds documents; the harness calls it with slices of at most `IMPORT_SLICE` documents per collection. */
  import: (dataset: Dataset) => Promise<void>
  /** Releases what `open` took; the pool stays the harness's. */
  close: () => Promise<void>
}

export interface PgStoreAdapter {
  /** Shown in the results, e.g. `PostgresStore`. */
  name: string
  open: (pool: pg.Pool, schema: string) => OpenedStore | Promise<OpenedStore>
}

/** The most documents of one collection the harness hands to one `import` call. */
export const IMPORT_SLICE = 20_000

/**
 * Who creates and fills the tables of a benchmark schema: the store when it is wired in,
 * otherwise the reference layout (the hand-SQL side alone). Both copies of an erase
 * benchmark are made by the same owner, so they are identical, indexes included.
 */
export interface LayoutOwner {
  name: string
  createTables: (pool: pg.Pool, schema: string) => Promise<void>
  import: (pool: pg.Pool, schema: string, dataset: Dataset) => Promise<void>
}
