// The kit under node:test, as a project without tap runs it (started by test/kit-runners.test.ts):
// KIT_RUN=pass runs MemoryStore through `test` and through a test context; KIT_RUN=fail a broken store.
import { test } from 'node:test'
import { storeConformance } from '../../lib/test-kit/index.js'
import { FaultyMemoryStore, documentTarget } from './kit-targets.js'
import { SupersetDirectMemory } from './mutants.js'

if (process.env.KIT_RUN === 'pass') {
  await storeConformance(test, { name: 'MemoryStore', create: async () => documentTarget(new FaultyMemoryStore()), supports: { documents: true, roomTypes: ['d', 'c', 'p'] } })
  await test('inside a test', async (t) => {
    await storeConformance(t, { name: 'MemoryStore in a context', create: async () => documentTarget(new FaultyMemoryStore()) })
  })
} else {
  await storeConformance(test, { name: 'SupersetDirectMemory', create: async () => documentTarget(new SupersetDirectMemory()) })
}
