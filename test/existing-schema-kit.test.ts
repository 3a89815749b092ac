import { PGlite } from '@electric-sql/pglite'
import type pg from 'pg'
import t from 'tap'
import { chatStoreTarget } from '../examples/existing-schema/kit-harness.js'
import { storeConformance } from '../lib/test-kit/index.js'
import { pgliteSchema, serverSchema, type ChatDb } from './helpers/existing-schema.js'
import { server } from './helpers/postgres.js'

// Kit v2 against the example's store over its own schema: a loader into its tables, its uuids
// for the kit's ids, no livechat (its schema has none), on the real server and on PGlite.

// Starting PGlite runs initdb in WebAssembly: many seconds on a busy two-core machine. It starts
// before the first case: tap ends a root test left idle while something else is awaited.
t.setTimeout(300_000)
const pglite = await PGlite.create()
t.teardown(() => pglite.close())
const real = await server(t)

const databases: Array<{ name: string, fresh: () => Promise<ChatDb> }> = [{ name: 'PGlite', fresh: async () => await pgliteSchema(pglite) }]
if (real !== null) databases.unshift({ name: 'the PostgreSQL server', fresh: async () => await serverSchema((real.options as { pool: pg.Pool }).pool) })

for (const { name, fresh } of databases) {
  await storeConformance(t, {
    name: `ChatStore on ${name}`,
    create: async () => {
      const { db, teardown } = await fresh()
      return chatStoreTarget(db, teardown)
    },
    supports: { roomTypes: ['d', 'c', 'p'] }
  })
}
