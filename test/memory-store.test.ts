import t from 'tap'
import { MemoryStore, hashLoginToken } from '../index.js'
import { fixture } from './helpers/fixture.js'

t.test('documents need string ids (and room-owned ones a room id)', async (t) => {
  t.throws(() => new MemoryStore({ users: [{ username: 'x' } as any] }), { message: "MemoryStore: every document in 'users' needs a string _id" })
  t.throws(() => new MemoryStore({ rooms: [null as any] }), { message: "MemoryStore: every document in 'rooms' needs a string _id" })
  await t.rejects(new MemoryStore().import({ messages: [{ _id: 'm' } as any] }), { message: "MemoryStore: every document in 'messages' needs a string rid" })
  t.throws(() => new MemoryStore({ rooms: [null as any] }), { code: 'FST_IM_DELETE_INVALID_DOCUMENT', name: 'TypeError' }, 'a coded TypeError')
})

t.test('a document naming a room that is not there is refused, naming both', async (t) => {
  const store = new MemoryStore(fixture())
  await t.rejects(store.import({ readReceipts: [{ _id: 'rr', rid: 'gone', messageId: 'm', userId: 'bob' }] }),
    { message: "MemoryStore: 'rr' in 'readReceipts' names a room (rid 'gone') that is neither in the store nor in this import; nothing was imported" })
  await t.rejects(store.import({ rooms: [{ _id: 'd', t: 'p', prid: 'gone' }] }),
    { message: "MemoryStore: 'd' in 'rooms' names a room (prid 'gone') that is neither in the store nor in this import; nothing was imported" })
  await t.rejects(store.import({ rooms: [{ _id: 'd', t: 'p', prid: 'gone' }] }), { code: 'FST_IM_DELETE_UNKNOWN_ROOM' }, 'coded')
})

t.test('import adds to what is there and replaces documents by _id', async (t) => {
  const store = new MemoryStore(fixture())
  await store.import({
    users: [{ _id: 'bob', username: 'robert', roles: ['user'] }],
    rooms: [{ _id: 'alicebob', t: 'c', name: 'now a channel' }, { _id: 'new-dm', t: 'd', uids: ['bob', 'carol'] }],
    messages: [{ _id: 'm-ab-1', rid: 'general', msg: 'moved' }]
  })
  t.match(await store.findUser('bob'), { username: 'robert' }, 'by _id: the renamed user')
  t.match(await store.findUser('robert'), { _id: 'bob' }, 'by the new username')
  t.equal(await store.findDirectRoom(['alice', 'bob']), null, 'a room that stopped being a DM leaves the DM index')
  t.match(await store.findDirectRoom(['carol', 'bob']), { _id: 'new-dm' }, 'member order does not matter')
  const dump = await store.dump()
  t.same(dump.messages.filter((m) => m._id === 'm-ab-1'), [{ _id: 'm-ab-1', rid: 'general', msg: 'moved' }], 'one copy, in its new room')
  const erased = await store.eraseRoom('general')
  t.equal(erased?.removed.messages, 3, 'the moved message went with its new room (plus the discussion message)')
})

t.test('stored documents are copies: callers cannot change the store by mutating them', async (t) => {
  const dataset = fixture()
  const store = new MemoryStore(dataset)
  dataset.rooms[0].t = 'c'
  const room = await store.findRoomById('alicebob')
  t.equal(room?.t, 'd')
  if (room !== null) room.t = 'c'
  t.equal((await store.findRoomById('alicebob'))?.t, 'd')
  const dump = await store.dump()
  dump.users.length = 0
  t.equal((await store.dump()).users.length, 6)
})

t.test('copies are the ones structuredClone makes, whatever the documents hold', async (t) => {
  const ts = new Date('2026-01-01T00:00:00.000Z')
  const plain = {
    _id: 'json',
    t: 'd',
    ts,
    nested: { list: [1, 'two', null, undefined, [true, { deep: -0 }]], bare: Object.assign(Object.create(null), { a: 1 }) },
    ...JSON.parse('{"__proto__":{"polluted":true}}')
  }
  const cycle: Record<string, unknown> = { _id: 'cycle', t: 'd' }
  cycle.self = cycle
  let deep: Record<string, unknown> = { leaf: true }
  for (let i = 0; i < 40; i++) deep = { deep }
  const exotic = [
    { _id: 'map', t: 'd', members: new Map([['a', 1]]) },
    { _id: 'sparse', t: 'd', slots: [1, , 3] }, // eslint-disable-line no-sparse-arrays
    cycle,
    { _id: 'deep', t: 'd', deep }
  ]
  const store = new MemoryStore({ rooms: [plain, ...exotic] })
  const room = await store.findRoomById('json') as any
  t.same(room, plain, 'a JSON-like document, deep-equal')
  t.not(room.nested.list[4], plain.nested.list[4], 'nested values are copied, not shared')
  t.ok(room.ts instanceof Date && room.ts !== ts && room.ts.getTime() === ts.getTime(), 'a Date stays a Date, copied')
  t.equal(Object.getPrototypeOf(room.nested.bare), Object.prototype, 'a null-prototype object comes back plain, as from structuredClone')
  t.ok(Object.hasOwn(room, '__proto__') && room.polluted === undefined, 'an own __proto__ key stays a key')
  t.ok(Object.is(room.nested.list[4][1].deep, -0) && 3 in room.nested.list && room.nested.list[3] === undefined, '-0 and undefined survive')
  t.same((await store.findRoomById('map') as any).members, new Map([['a', 1]]), 'a Map goes to structuredClone')
  t.notOk(1 in (await store.findRoomById('sparse') as any).slots, 'a hole stays a hole')
  const copied = await store.findRoomById('cycle') as any
  t.equal(copied.self, copied, 'a cycle is kept')
  let found = (await store.findRoomById('deep') as any).deep
  for (let i = 0; i < 40; i++) found = found.deep
  t.same(found, { leaf: true }, 'a document deeper than the direct copy goes is copied whole')
  t.throws(() => new MemoryStore({ rooms: [{ _id: 'f', t: 'd', fn: () => {} }] }), { name: 'DataCloneError' }, 'a function cannot be stored, as before')
  t.throws(() => new MemoryStore({ rooms: [{ _id: 's', t: 'd', tag: [Symbol('x')] }] }), { name: 'DataCloneError' }, 'nor a symbol')
})

t.test('a dump lists every collection sorted by _id', async (t) => {
  const dump = await new MemoryStore(fixture()).dump()
  for (const [name, docs] of Object.entries(dump)) {
    const ids = docs.map((doc: { _id: string }) => doc._id)
    t.same(ids, [...ids].sort(), name)
  }
  t.same(await new MemoryStore().dump(), { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] })
})

t.test('login tokens: only a stored hash matches', async (t) => {
  const store = new MemoryStore({
    users: [
      { _id: 'u', username: 'u', services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('t') }, { hashedToken: 'short' }] } } },
      { _id: 'v', username: 'v', services: {} }
    ]
  })
  t.match(await store.findUserByLoginToken('u', hashLoginToken('t')), { _id: 'u' })
  t.equal(await store.findUserByLoginToken('u', 'short-but-not-equal'), null)
  t.equal(await store.findUserByLoginToken('v', hashLoginToken('t')), null)
  t.equal(await store.findUserByLoginToken('nobody', hashLoginToken('t')), null)
})

t.test('a DM without member ids is found by id only', async (t) => {
  const store = new MemoryStore({ rooms: [{ _id: 'odd', t: 'd' }] })
  t.match(await store.findRoomById('odd'), { _id: 'odd' })
  t.equal(await store.findDirectRoom([]), null)
  t.match(await store.eraseRoom('odd'), { removed: { messages: 0, discussions: 0 } })
})

t.test('two DMs with one member set (imported data can hold them): erasing or replacing one leaves the other findable', async (t) => {
  const rooms = [{ _id: 'first', t: 'd', uids: ['x', 'y'] }, { _id: 'second', t: 'd', uids: ['y', 'x'] }]
  const store = new MemoryStore({ rooms })
  t.match(await store.findDirectRoom(['x', 'y']), { _id: 'first' }, 'the first stored is found first')
  await store.eraseRoom('first')
  t.match(await store.findDirectRoom(['x', 'y']), { _id: 'second' }, 'after its erase, the other one')
  await store.import({ rooms: [{ _id: 'second', t: 'c' }] })
  t.equal(await store.findDirectRoom(['x', 'y']), null, 'none left once it stops being a DM')

  const replaced = new MemoryStore({ rooms })
  await replaced.import({ rooms: [{ _id: 'first', t: 'c' }] })
  t.match(await replaced.findDirectRoom(['x', 'y']), { _id: 'second' }, 'a DM turned channel hands the member set over')
})
