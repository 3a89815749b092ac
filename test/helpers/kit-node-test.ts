// The kit under node:test (started by test/kit-runners.test.ts; examples/kit-pglite.ts is the
// plain run): KIT_RUN=context runs it in a test context without livechat, KIT_RUN=fail a broken store.
import { test } from 'node:test'
import { storeConformance } from '../../lib/test-kit/index.js'
import { FaultyMemoryStore } from './app.js'
import { documentTarget } from './kit-targets.js'
import { SupersetDirectMemory } from './mutants.js'

if (process.env.KIT_RUN === 'context') {
  await test('inside a test', async (t) => {
    await storeConformance(t.test.bind(t), { name: 'MemoryStore in a context', create: async () => documentTarget(new FaultyMemoryStore()), supports: { roomTypes: ['d', 'c', 'p'] } })
  })
} else {
  await storeConformance(test, { name: 'SupersetDirectMemory', create: async () => documentTarget(new SupersetDirectMemory()) })
}
