// The conformance kit run the way a project without tap runs it, over PostgresStore on PGlite:
//   node --import tsx --test examples/kit-pglite.ts
// The fault the kit arms is in the database the store is given: PGlite, wrapped to count DELETEs.
import { after, test } from 'node:test'
import { PGlite } from '@electric-sql/pglite'
import { hashLoginToken, type User } from '../index.js'
import { PostgresStore } from '../postgres.js'
import { KitFault, storeConformance, type KitTarget } from '../lib/test-kit/index.js'

const db = await PGlite.create()
after(async () => { await db.close() })
const TABLES = { room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'read_receipts' } as const
let schemas = 0

type Query = (text: string, params?: unknown[]) => Promise<{ rows: any[] }>
/** `query`, telling the fault after each DELETE statement it applied. */
const counted = (query: Query, fault: KitFault): Query => async (text, params) => {
  const result = await query(text, params)
  if (/\bDELETE\s+FROM\b/i.test(text)) fault.wrote()
  return result
}

await storeConformance(test, {
  name: 'PostgresStore on PGlite',
  supports: { documents: true },
  create: async (): Promise<KitTarget<PostgresStore>> => {
    const schema = `kit_${++schemas}`
    const fault = new KitFault()
    const pglite = {
      query: counted(async (text, params) => await db.query(text, params), fault),
      transaction: async <T>(work: (tx: { query: Query }) => Promise<T>) => await db.transaction(async (tx) => await work({ query: counted(async (text, params) => await tx.query(text, params), fault) }))
    }
    const store = new PostgresStore({ pglite, schema })
    await store.migrate()
    return {
      store,
      load: async (world) => { await store.import(world) },
      ids: async (kind) => (await db.query<{ _id: string }>(`SELECT _id FROM ${schema}.${TABLES[kind]}`)).rows.map((row) => row._id),
      failNextErase: (afterWrites) => { fault.arm(afterWrites) },
      faultFired: () => fault.fired(),
      // As a chat server writes: an INSERT of its own, which the foreign key refuses once the room is gone.
      writeMessage: async (message) => { await db.query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ($1, $2, $3)`, [message._id, message.rid, JSON.stringify(message)]) },
      // A token stops counting when it is gone from its user (Rocket.Chat's logout, or its expiry sweep).
      expireToken: async (userId, token) => {
        const user = (await store.dump()).users.find((doc) => doc._id === userId) as User & { services: { resume: { loginTokens: Array<{ hashedToken: string }> } } }
        const loginTokens = user.services.resume.loginTokens.filter((held) => held.hashedToken !== hashLoginToken(token))
        await store.import({ users: [{ ...user, services: { resume: { loginTokens } } }] })
      },
      teardown: async () => { await db.exec(`DROP SCHEMA ${schema} CASCADE`) }
    }
  }
})
