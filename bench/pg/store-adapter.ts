// The PostgreSQL benchmarks compare PostgresStore with the same deletes written by hand
// (bench/pg/hand-sql.ts); this adapter is how the harness opens the store on its pool.
import { PostgresStore } from '../../postgres.js'
import type { PgStoreAdapter } from './contract.js'

export const storeAdapter: PgStoreAdapter | null = {
  name: 'PostgresStore',
  open (pool, schema) {
    const store = new PostgresStore({ pool, schema })
    return {
      store,
      createTables: async () => { await store.migrate() },
      import: async (dataset) => { await store.import(dataset) },
      close: async () => { await store.close() } // a pool it was given stays open
    }
  }
}
