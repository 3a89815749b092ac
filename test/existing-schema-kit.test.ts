import { PGlite } from '@electric-sql/pglite'
import type pg from 'pg'
import t from 'tap'
import { chatStoreTarget } from '../examples/existing-schema/kit-harness.js'
import { storeConformance } from '../lib/test-kit/index.js'
import { pgliteSchema, serverSchema, type ChatDb } from './helpers/existing-schema.js'
import { server } from './helpers/postgres.js'

// The kit against the example's store over its own schema: a loader into its tables, its uuids
// for the kit's ids, no livechat (its schema has none), on the real server and on PGlite.

// Starting PGlite runs initdb in WebAssembly: many seconds on a busy two-core machine. It starts
// before the first case: tap ends a root test left idle while something else is awaited.
t.setTimeout(300_000)
const pglite = await PGlite.create()
t.teardown(() => pglite.close())
const real = await server(t)

const databases: Array<{ name: string, fresh: () => Promise<ChatDb> }> = [{ name: 'PGlite', fresh: async () => await pgliteSchema(pglite) }]
if (real !== null) databases.unshift({ name: 'the PostgreSQL server', fresh: async () => await serverSchema((real.options as { pool: pg.Pool }).pool) })

for (const { name, fresh } of databases) {
  await storeConformance(t.test.bind(t), {
    name: `ChatStore on ${name}`,
    create: async () => {
      const { db, teardown } = await fresh()
      return chatStoreTarget(db, teardown)
    },
    supports: { roomTypes: ['d', 'c', 'p'] }
  })
}

// An integrator's schema that has no federation and whose accounts all hold a role: `supports`
// says so, and the store passes as it is. Its loader refuses what such a schema cannot hold.
await storeConformance(t.test.bind(t), {
  name: 'ChatStore on PGlite, as a schema without federation or role-less accounts',
  create: async () => {
    const { db, teardown } = await pgliteSchema(pglite)
    const target = chatStoreTarget(db, teardown)
    return {
      ...target,
      async load (world) {
        if (world.rooms?.some((room) => room.federated === true) === true) throw new Error('this schema has no federated rooms')
        if (world.users?.some((user) => (user.roles ?? []).length === 0) === true) throw new Error('every account holds a role here')
        await target.load(world)
      }
    }
  },
  supports: { roomTypes: ['d', 'c', 'p'], federation: false, rolelessUsers: false }
})

// The kit's world sets every optional field it can; Rocket.Chat's documents often do not.
t.test('the loader takes documents with only their required fields', async (t) => {
  const { db, teardown } = await pgliteSchema(pglite)
  t.teardown(teardown)
  const target = chatStoreTarget(db)
  const id = (kind: 'user' | 'room', kitId: string): string => target.idOf?.(kind, kitId) as string
  await target.load({
    users: [{ _id: 'u' }],
    rooms: [{ _id: 'r', t: 'd' }],
    subscriptions: [{ _id: 's', rid: 'r', u: { _id: 'u' } }],
    messages: [{ _id: 'm', rid: 'r' }],
    uploads: [{ _id: 'f', rid: 'r' }],
    readReceipts: []
  })
  t.strictSame(await target.store.findUser(id('user', 'u')), { _id: id('user', 'u'), roles: [], active: true }, 'no roles: none; no username: none')
  t.strictSame(await target.store.findRoomById(id('room', 'r')), { _id: id('room', 'r'), t: 'd', uids: [id('user', 'u')] })
  const erased = await target.store.eraseRoom(id('room', 'r'))
  t.strictSame(erased?.removed, { messages: 1, subscriptions: 1, uploads: 1, readReceipts: 0, discussions: 0 }, 'a post without author or text, an upload without path')
  t.strictSame(erased?.uploads, [{ _id: target.idOf?.('upload', 'f'), rid: id('room', 'r'), storageKey: 'f' }], 'its storage key is its id')
})
