import t from 'tap'
import { storeConformance } from '../lib/test-kit/index.js'
import { backends } from './helpers/postgres.js'
import { FaultyMemoryStore } from './helpers/app.js'
import { documentTarget, postgresTarget } from './helpers/kit-targets.js'

// Our stores pass every case, the document ones too: the behaviour the plugin reads, and documents compared whole.
const memory = await storeConformance(t.test.bind(t), {
  name: 'MemoryStore',
  create: async () => documentTarget(new FaultyMemoryStore()),
  supports: { documents: true }
})
t.same(memory.notApplicable, [], 'MemoryStore: every case applies')

for (const backend of await backends(t)) {
  await storeConformance(t.test.bind(t), { name: `PostgresStore on ${backend.name}`, create: async () => await postgresTarget(backend), supports: { documents: true } })
}
