import t from 'tap'
import { MemoryStore } from '../index.js'
import { storeConformance } from '../lib/test-kit.js'
import { backends } from './helpers/postgres.js'

await storeConformance(t, { name: 'MemoryStore', create: async () => ({ store: new MemoryStore() }) })

for (const backend of await backends(t)) {
  await storeConformance(t, { name: `PostgresStore on ${backend.name}`, create: async () => await backend.fresh() })
}
