import type { LayoutOwner, PgStoreAdapter } from './contract.js'
import { REFERENCE_LAYOUT } from './hand-sql.js'

/** The store as the owner of a schema's layout: its own `migrate()` and `import()`. */
export function storeOwner (adapter: PgStoreAdapter): LayoutOwner {
  return {
    name: adapter.name,
    async createTables (pool, schema) {
      const opened = await adapter.open(pool, schema)
      try {
        await opened.createTables()
      } finally {
        await opened.close()
      }
    },
    async import (pool, schema, dataset) {
      const opened = await adapter.open(pool, schema)
      try {
        await opened.import(dataset)
      } finally {
        await opened.close()
      }
    }
  }
}

/** Who makes the benchmark schemas: the store once it is wired in, the reference layout until then. */
export const layoutOwner = (adapter: PgStoreAdapter | null): LayoutOwner => adapter === null ? REFERENCE_LAYOUT : storeOwner(adapter)
