// Imported first by each file here: the suites that follow then build every app on PostgreSQL.
import t from 'tap'
import { useStore } from '../helpers/app.js'
import { pglite, server } from '../helpers/postgres.js'

// The real server when it answers (CI makes sure it does), else PGlite.
const backend = await server(t) ?? await pglite(t)
t.comment(`HTTP suite on ${backend.name}`)
useStore(async (dataset) => {
  const { store, teardown } = await backend.fresh()
  await store.import(dataset)
  t.teardown(teardown)
  return store
})
