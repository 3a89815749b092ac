import t from 'tap'
import { MemoryStore, type AfterEraseContext, type Dump, type Upload } from '../index.js'
import { STORE_METHODS } from '../lib/store.js'
import { BODIES, FaultyMemoryStore, DM_DELETE, IM_DELETE, build, captureLogs, faulty, intercepted } from './helpers/app.js'
import { ALICEBOB_TREE, authHeaders, fixture } from './helpers/fixture.js'

const admin = authHeaders('admin')

/** The dump with the given ids removed from each collection. */
function without (dump: Dump, gone: Partial<Record<keyof Dump, string[]>>): Dump {
  const out = { ...dump }
  for (const [name, ids] of Object.entries(gone) as Array<[keyof Dump, string[]]>) {
    out[name] = (dump[name] as Array<{ _id: string }>).filter((doc) => !ids.includes(doc._id)) as any
  }
  return out
}

t.test('the erase removes the DM, its discussion tree and all their content, and nothing else', async (t) => {
  for (const url of [IM_DELETE, DM_DELETE]) {
    const { app, store } = await build()
    const before = await store.dump()
    const res = await app.inject({ method: 'POST', url, headers: admin, payload: { roomId: 'alicebob' } })
    t.equal(res.statusCode, 200, url)
    t.equal(res.body, BODIES.success, url)
    t.same(await store.dump(), without(before, ALICEBOB_TREE), `${url}: exactly the tree is gone`)
  }
})

t.test('hooks and the file store see what was erased, after the commit', async (t) => {
  const seen: string[] = []
  let context: AfterEraseContext | undefined
  let roomsAtFileRemoval: string[] = []
  const built = await build({
    onBeforeErase: async ({ room, user }) => { seen.push(`before:${room._id}:${user.username}`) },
    onAfterErase: [(ctx) => { context = ctx; seen.push('after:1') }, async () => { seen.push('after:2') }],
    fileStore: {
      remove: async (upload: Upload) => {
        roomsAtFileRemoval = (await built.store.dump()).rooms.map((room) => room._id)
        seen.push(`file:${upload._id}`)
      },
      removeAvatar: (room) => { seen.push(`avatar:${room._id}`) }
    }
  })
  const res = await built.app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await built.app.close()
  t.same(seen.slice().sort(), [
    'after:1', 'after:2',
    'avatar:alicebob', 'avatar:disc-1', 'avatar:disc-1-1',
    'before:alicebob:admin',
    'file:up-ab-1', 'file:up-ab-orphan', 'file:up-d11-1'
  ])
  t.equal(seen[0], 'before:alicebob:admin', 'the before hook runs first')
  t.notOk(roomsAtFileRemoval.includes('alicebob'), 'blobs are removed once the rows are gone')
  t.match(context, {
    room: { _id: 'alicebob', t: 'd' },
    user: { _id: 'admin', username: 'admin', roles: ['admin', 'user'] },
    removed: { messages: 5, subscriptions: 4, uploads: 3, readReceipts: 3, discussions: 2 }
  })
  t.same(context?.rooms.map((room) => room._id), ['alicebob', 'disc-1', 'disc-1-1'])
})

t.test('the app veto comes after every other check: a refused caller gets its own answer, and the hook is not called', async (t) => {
  const calls: string[] = []
  const { app, store } = await build({ onBeforeErase: ({ room, user }) => { calls.push(`${user.username}:${room._id}`); return false } })
  const before = await store.dump()
  const cases: Array<[Parameters<typeof authHeaders>[0], string, string, string]> = [
    ['alice', 'fed-dm', BODIES.notAllowed, 'cannot reach it: reach comes before the federated check'],
    ['admin', 'fed-dm', BODIES.federated, 'federated, checked before delete-d and the veto'],
    ['alice', 'alicebob', BODIES.eraseNotAllowed, 'a member without delete-d'],
    ['carol', 'alicebob', BODIES.notAllowed, 'not a member, no view-room-administration']
  ]
  for (const [who, roomId, body, why] of cases) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders(who), payload: { roomId } })
    t.equal(res.body, body, `${who} on ${roomId}: ${why}`)
  }
  t.same(calls, [], 'the veto hook never ran for a refused caller')
  t.same(await store.dump(), before)
  const permitted = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
  t.equal(permitted.body, BODIES.appPrevented, 'for a permitted caller, the veto answers')
  t.same(calls, ['admin:alicebob'])
})

t.test('a before-erase hook that resolves false vetoes the erase', async (t) => {
  for (const veto of [() => false, async () => false]) {
    const { app, store } = await build({ onBeforeErase: [() => true, veto] })
    const before = await store.dump()
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
    t.equal(res.statusCode, 400)
    t.equal(res.body, BODIES.appPrevented)
    t.same(await store.dump(), before)
  }
})

const HOOKS = ['onBeforeErase', 'fileStore.remove', 'fileStore.removeAvatar', 'onAfterErase'] as const

const HOOK_FAILURES: Record<string, () => Promise<void>> = {
  throws: () => { throw new Error('hook service down') },
  rejects: async () => { throw new Error('hook service down') },
  hangs: async () => await new Promise<never>(() => {}),
  // pino cannot serialise it: logging it must not become a crash after the response is gone.
  'throws a frozen error': () => { throw Object.freeze(new Error('hook service down')) }
}

t.test('a hook that fails or hangs: the documented answer, the data as documented, logged, and the server goes on', async (t) => {
  for (const hook of HOOKS) {
    for (const [mode, fail] of Object.entries(HOOK_FAILURES)) {
      const name = `${hook} ${mode}`
      let armed = true
      const broken = async (): Promise<void> => { if (armed) await fail() }
      const logs = captureLogs()
      const { app, store } = await build({
        fastify: { logger: logs.logger },
        hookTimeout: 50,
        onBeforeErase: hook === 'onBeforeErase' ? broken : [],
        onAfterErase: hook === 'onAfterErase' ? broken : [],
        fileStore: { remove: hook === 'fileStore.remove' ? broken : () => {}, removeAvatar: hook === 'fileStore.removeAvatar' ? broken : () => {} }
      })
      const before = await store.dump()
      const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
      if (hook === 'onBeforeErase') {
        t.equal(res.body, BODIES.internal, `${name}: 500, nothing erased`)
        t.same(await store.dump(), before, `${name}: the data is whole`)
      } else {
        t.equal(res.body, BODIES.success, `${name}: the erase stands`)
        t.same(await store.dump(), without(before, ALICEBOB_TREE), `${name}: exactly the tree is gone`)
      }
      armed = false
      const next = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'adminbob' } })
      t.equal(next.body, BODIES.success, `${name}: the server goes on`)
      await app.close()

      const errors = logs.lines.filter((line) => line.level >= 50)
      const calls = { onBeforeErase: 1, 'fileStore.remove': 3, 'fileStore.removeAvatar': 3, onAfterErase: 1 }[hook]
      const msg = hook === 'onBeforeErase' ? 'im.delete: request failed' : `im.delete: ${hook} failed after the erase`
      t.same(errors.map((line) => line.msg), Array(calls).fill(msg), `${name}: each failure logged once`)
      t.ok(errors.every((line) => typeof line.reqId === 'string'), `${name}: with the request id`)
      if (mode === 'hangs') t.ok(errors.every((line) => line.err.code === 'FST_IM_DELETE_HOOK_TIMEOUT'), `${name}: given up on after hookTimeout`)
    }
  }
})

t.test('concurrent erases of one DM: exactly one succeeds, the others get 400', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    app.inject({ method: 'POST', url: i % 2 === 0 ? IM_DELETE : DM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })))
  const bodies = responses.map((res) => res.body)
  t.equal(bodies.filter((body) => body === BODIES.success).length, 1)
  t.equal(bodies.filter((body) => body === BODIES.invalidRoom || body === BODIES.invalidChannel).length, 19)
  t.same(await store.dump(), without(before, ALICEBOB_TREE))
})

t.test('erases that all passed their checks before the first one ran: the rest find the room gone', async (t) => {
  const memory = new MemoryStore(fixture())
  const before = await memory.dump()
  const n = 10
  let arrived = 0
  let release: () => void = () => {}
  const barrier = new Promise<void>((resolve) => { release = resolve })
  const store = faulty(memory, {
    eraseRoom: async () => {
      if (++arrived === n) release()
      await barrier
      return await memory.eraseRoom('alicebob')
    }
  })
  const { app } = await build({ store })
  const bodies = (await Promise.all(Array.from({ length: n }, () =>
    app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })))).map((res) => res.body)
  t.equal(bodies.filter((body) => body === BODIES.success).length, 1)
  t.equal(bodies.filter((body) => body === BODIES.invalidRoom).length, n - 1)
  t.same(await memory.dump(), without(before, ALICEBOB_TREE))
})

t.test('a store failing at any lookup or at the erase: 500 in Rocket.Chat shape, the cause logged, nothing changed, the server goes on', async (t) => {
  for (const step of ['findUserByLoginToken', 'findNamed', ...STORE_METHODS]) {
    // The username path is the one that looks users and DMs up by name.
    const payload = step === 'findUser' || step === 'findDirectRoom' ? { username: 'bob' } : { roomId: 'adminbob' }
    const logs = captureLogs()
    const memory = new MemoryStore(fixture())
    const before = await memory.dump()
    let armed = true
    const store = intercepted(memory, (method) => { if (armed && method === step) throw new Error(`SELECT secret FROM ${step}`) }, { named: step === 'findNamed' })
    const { app } = await build({ store, fastify: { logger: logs.logger } })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload })
    t.equal(res.statusCode, 500, step)
    t.equal(res.body, BODIES.internal, `${step}: no SQL, no stack in the body`)
    t.same(await memory.dump(), before, `${step}: nothing changed`)
    t.match(logs.lines.filter((entry) => entry.level === 50), [{ msg: 'im.delete: request failed', reqId: String, err: { message: `SELECT secret FROM ${step}` } }], `${step}: logged once`)
    armed = false
    const again = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload })
    t.equal(again.body, BODIES.success, `${step}: the same server erases the DM once the store works`)
  }
})

t.test('a memory store failing after any write of the erase changes nothing (all or nothing)', async (t) => {
  for (let write = 1; ; write++) {
    const store = new FaultyMemoryStore(fixture())
    store.fault.arm(write)
    const before = await store.dump()
    const { app } = await build({ store })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
    if (!store.fault.fired()) {
      // Fewer writes than armed: the erase went through.
      t.equal(res.body, BODIES.success, `the erase makes ${write - 1} writes, each of them tried`)
      t.ok(write - 1 >= Object.values(ALICEBOB_TREE).flat().length, 'one write for each row removed at least')
      return
    }
    t.equal(res.body, BODIES.internal, `after write ${write}`)
    t.same(await store.dump(), before, `after write ${write}: every document is back`)
    t.same(await store.findDirectRoom(['alice', 'bob']), before.rooms.find((room) => room._id === 'alicebob'), `after write ${write}: the DM is found again`)
    const again = await app.inject({ method: 'POST', url: DM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
    t.equal(again.body, BODIES.success, `after write ${write}: the server goes on`)
    t.same(await store.dump(), without(before, ALICEBOB_TREE), `after write ${write}: the rolled-back DM erases whole, indexes and all`)
  }
})
