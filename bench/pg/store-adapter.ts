/**
 * ============================== PENDING: PostgresStore ==============================
 *
 * The PostgreSQL benchmarks compare the store with hand-written SQL. The store lives on
 * branch pg-store and is not on this branch yet, so `storeAdapter` is null: the harness then
 * runs the hand-SQL side alone, on the reference layout (bench/pg/hand-sql.ts), and reports
 * the store's figures as pending.
 *
 * To wire it in once `PostgresStore` is exported from index.ts, replace the export below with:
 *
 *   import { PostgresStore } from '../../index.js'
 *
 *   export const storeAdapter: PgStoreAdapter | null = {
 *     name: 'PostgresStore',
 *     open (pool, schema) {
 *       const store = new PostgresStore({ pool, schema })
 *       return {
 *         store,
 *         createTables: async () => { await store.migrate() },
 *         import: async (dataset) => { await store.import(dataset) },
 *         close: async () => { await store.close() } // a pool it was given stays open
 *       }
 *     }
 *   }
 *
 * What the harness relies on (bench/pg/contract.ts):
 * - `open(pool, schema)` is cheap and shares the harness's pg.Pool; `schema` exists and is empty
 *   when `createTables()` runs; `import()` takes slices of at most 20 000 documents per
 *   collection, adding to what is there; `store` implements ImDeleteStore.
 * - The store's tables are the layout bench/pg/hand-sql.ts is written for (checkLayout() fails
 *   naming any missing table or column; adapt the hand SQL there if the schema changed).
 * Then: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench`.
 * =====================================================================================
 */
import type { PgStoreAdapter } from './contract.js'

export const storeAdapter: PgStoreAdapter | null = null
