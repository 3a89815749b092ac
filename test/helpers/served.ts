import { ROOM_KEYS } from '../../lib/stores/postgres/migrations.js'
import type { Test } from 'tap'
import type { AfterEraseContext, Dataset, Dump, Upload } from '../../index.js'
import type { PostgresStore } from '../../postgres.js'
import { build, captureLogs } from './app.js'
import { serve } from './http.js'
import type { Backend } from './postgres.js'

export interface Served {
  base: string
  schema: string
  /** The store the server uses. */
  store: PostgresStore
  /** Everything in the schema, read through the backend's own connections (not the server's). */
  dump: () => Promise<Dump>
  /** What the after-erase hook and the file store saw: complete once `close()` has resolved. */
  erased: AfterEraseContext[]
  removedFiles: string[]
  logs: Array<Record<string, any>>
  close: () => Promise<void>
}

export interface ServedOptions {
  /** false: a schema without the foreign keys to rooms (a host schema without them). */
  foreignKeys?: boolean
  /** The server's store on the schema (closed at teardown); default: a store on the backend's connections. */
  store?: (schema: string) => PostgresStore
}

/**
 * The plugin listening on 127.0.0.1 (default rate limit, file store and after-erase hook
 * recorded, logs captured) over a fresh schema of `backend` holding `dataset`.
 */
export async function served (t: Test, backend: Backend, dataset: Dataset, options: ServedOptions = {}): Promise<Served> {
  const { store: loader, schema, teardown } = await backend.fresh(false)
  t.teardown(teardown)
  await loader.migrate()
  if (options.foreignKeys === false) {
    for (const { table, column } of ROOM_KEYS) await backend.query(`ALTER TABLE ${schema}.${table} DROP CONSTRAINT ${table}_${column}_fkey`)
  }
  await loader.import(dataset)
  const store = options.store?.(schema) ?? loader
  t.teardown(async () => { await store.close() })
  const erased: AfterEraseContext[] = []
  const removedFiles: string[] = []
  const { logger, lines } = captureLogs()
  const { app } = await build({
    store,
    fastify: { logger },
    rateLimit: {},
    onAfterErase: (context) => { erased.push(context) },
    fileStore: { remove: (upload: Upload) => { removedFiles.push(upload._id) } }
  })
  const base = await serve(t, app)
  return { base, schema, store, dump: async () => await loader.dump(), erased, removedFiles, logs: lines, close: async () => { await app.close() } }
}
