import type { Test } from 'tap'
import { useStore } from './app.js'
import type { Backend } from './postgres.js'

/** Makes every app the suites that follow build run on a fresh schema of `backend`. */
export function useBackend (t: Test, backend: Backend): void {
  t.comment(`HTTP suite on ${backend.name}`)
  useStore(async (dataset) => {
    const { store, teardown } = await backend.fresh()
    await store.import(dataset)
    t.teardown(teardown)
    return store
  })
}
