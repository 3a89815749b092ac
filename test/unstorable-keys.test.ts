// Keys no row can hold (a NUL, a lone surrogate), sent by any authenticated user in a JSON or form
// body: 400 invalid-channel, as for any key that names nothing, and nothing logged, on every store.
import t, { type Test } from 'tap'
import { MemoryStore } from '../index.js'
import { BODIES, IM_DELETE, build, captureLogs, type TestStore } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'
import { pglite, server, type Backend } from './helpers/postgres.js'

const JSON_BODIES = [{ roomId: 'alicebob\u0000' }, { roomId: 'u1u2\u0000' }, { username: 'bob\u0000' }, { roomId: '#alicebob\u0000' },
  { roomId: '\ud800' }, { username: '@bob\udc00' }, { roomId: 'alicebob\ud83d' }]
const FORM_BODIES = ['roomId=%00', 'username=bob%00', 'roomId=%23%00']

async function answers (t: Test, store: TestStore): Promise<void> {
  const { logger, lines } = captureLogs('debug')
  const { app } = await build({ store, fastify: { logger } })
  t.teardown(async () => { await app.close() })
  for (const payload of JSON_BODIES) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload })
    t.same({ status: res.statusCode, body: res.body }, { status: 400, body: BODIES.invalidChannel }, JSON.stringify(payload))
  }
  for (const payload of FORM_BODIES) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { ...authHeaders('admin'), 'content-type': 'application/x-www-form-urlencoded' }, payload })
    t.same({ status: res.statusCode, body: res.body }, { status: 400, body: BODIES.invalidChannel }, payload)
  }
  t.same(lines.filter(({ level }) => level >= 40), [], 'nothing logged at warn or above')
  t.same((await store.dump()).rooms.length, fixture().rooms.length, 'nothing erased')
}

t.test('MemoryStore', async (t) => { await answers(t, new MemoryStore(fixture())) })

for (const backend of [pglite, server] as Array<(t: Test) => Promise<Backend | null>>) {
  t.test(`PostgresStore on ${backend.name}`, async (t) => {
    const db = await backend(t)
    if (db === null) return
    const { store, teardown } = await db.fresh()
    t.teardown(teardown)
    await store.import(fixture())
    await answers(t, store)
  })
}
