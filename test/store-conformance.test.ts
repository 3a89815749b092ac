import t from 'tap'
import { storeConformance } from '../lib/test-kit/index.js'
import { backends } from './helpers/postgres.js'
import { FaultyMemoryStore } from './helpers/app.js'
import { documentTarget, postgresTarget } from './helpers/kit-targets.js'

// Our stores pass both levels: the behaviour the plugin reads, and the full document round trip.
const memory = await storeConformance(t.test.bind(t), {
  name: 'MemoryStore',
  create: async () => documentTarget(new FaultyMemoryStore()),
  supports: { documents: true }
})
t.same(memory.notApplicable, [], 'MemoryStore: every case applies')

for (const backend of await backends(t)) {
  await storeConformance(t.test.bind(t), { name: `PostgresStore on ${backend.name}`, create: async () => await postgresTarget(backend), supports: { documents: true } })
}
