// Imported first: the suites that follow then build every app on PGlite, even where the real
// server answers (test/on-postgres prefers the server), so that each rev-2 row is pinned on both.
import t from 'tap'
import { useStore } from '../helpers/app.js'
import { pglite } from '../helpers/postgres.js'

const backend = await pglite(t)
t.comment(`HTTP suite on ${backend.name}`)
useStore(async (dataset) => {
  const { store, teardown } = await backend.fresh()
  await store.import(dataset)
  t.teardown(teardown)
  return store
})
