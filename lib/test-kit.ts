import { ALICEBOB_TREE, TOKENS, fixture } from './fixture.js'
import { hashLoginToken } from './auth.js'
import type { ImDeleteStore } from './store.js'
import type { Dataset, Dump, EraseResult, Room, User } from './types.js'

/** The assertions the suite uses: tap's `t` has them; so can any runner's small adapter. */
export interface Assertions {
  test: (name: string, fn: (t: Assertions) => Promise<void>) => unknown
  ok: (value: unknown, message: string) => unknown
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  strictSame: (found: unknown, wanted: unknown, message: string) => unknown
  rejects: (promise: Promise<unknown>, wanted: typeof Error, message: string) => unknown
}

/** A store as the suite drives it: the use case's methods plus loading and reading everything. */
// The blob capability is optional for a store, and outside what the suite checks.
export interface ConformanceStore extends Required<Omit<ImDeleteStore, 'pendingBlobs' | 'blobRemoved'>> {
  import: (dataset: Dataset) => Promise<void>
  dump: () => Promise<Dump>
}

export interface ConformanceTarget {
  /** An empty store of its own: the suite creates one per case. */
  store: ConformanceStore
  teardown?: () => Promise<void>
}

export interface ConformanceOptions {
  name: string
  create: () => Promise<ConformanceTarget>
}

type Collection = keyof Dump
const COLLECTIONS: Collection[] = ['users', 'rooms', 'subscriptions', 'messages', 'uploads', 'readReceipts']

// A key whose value is undefined does not survive JSON (nor most databases): it is no difference.
function defined (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(defined)
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, defined(v)]))
}

const byId = (a: { _id: string }, b: { _id: string }): number => Number(a._id > b._id) - Number(a._id < b._id)

function sorted (dataset: Required<Dataset>): Dump {
  return Object.fromEntries(COLLECTIONS.map((name) => [name, [...dataset[name]].sort(byId)])) as Dump
}

/** Deep equality where a key holding undefined counts as absent. */
function same (t: Assertions, found: unknown, wanted: unknown, message: string): unknown {
  return t.strictSame(defined(found), defined(wanted), message)
}

function without (dump: Dump, removed: Partial<Record<Collection, string[]>>): Dump {
  return Object.fromEntries(COLLECTIONS.map((name) =>
    [name, dump[name].filter((doc) => !(removed[name] ?? []).includes(doc._id))])) as Dump
}

/** The documents naming a room (rid, or a discussion's prid) that the dump does not hold, as `collection/_id`. */
export function orphans (dump: Dump): string[] {
  const rooms = new Set(dump.rooms.map((room) => room._id))
  return [
    ...dump.rooms.filter((room) => typeof room.prid === 'string' && !rooms.has(room.prid)).map((room) => `rooms/${room._id}`),
    ...COLLECTIONS.filter((name) => name !== 'users' && name !== 'rooms')
      .flatMap((name) => (dump[name] as Array<{ _id: string, rid: string }>).filter((doc) => !rooms.has(doc.rid)).map((doc) => `${name}/${doc._id}`))
  ]
}

function pick<C extends Collection> (collection: C, id: string): Dump[C][number] {
  return fixture()[collection].find((doc) => doc._id === id) as Dump[C][number]
}

/**
 * The behaviour every `ImDeleteStore` must have, as tap subtests of `t`: lookups, the erase
 * cascade, erasing a missing room, two erases racing, import replacing by `_id`, dump round trips.
 * Every case runs on a fresh store from `create()` holding the test fixture.
 */
export async function storeConformance (t: Assertions, { name, create }: ConformanceOptions): Promise<void> {
  const it = async (title: string, fn: (t: Assertions, store: ConformanceStore) => Promise<void>): Promise<void> => {
    await t.test(`${name}: ${title}`, async (sub) => {
      const { store, teardown } = await create()
      try {
        await store.import(fixture())
        await fn(sub, store)
      } finally {
        await teardown?.()
      }
    })
  }

  await it('finds a user by the hash of a login token the user holds, and by no other', async (t, store) => {
    const alice = pick('users', 'alice')
    same(t, await store.findUserByLoginToken('alice', hashLoginToken(TOKENS.alice)), alice, 'the current token')
    same(t, await store.findUserByLoginToken('alice', hashLoginToken('old-alice')), alice, 'an older token')
    t.equal(await store.findUserByLoginToken('alice', hashLoginToken(TOKENS.bob)), null, "another user's token")
    t.equal(await store.findUserByLoginToken('alice', TOKENS.alice), null, 'the token itself, not its hash')
    t.equal(await store.findUserByLoginToken('alice', ''), null, 'an empty hash')
    t.equal(await store.findUserByLoginToken('nobody', hashLoginToken(TOKENS.alice)), null, 'an unknown user')
    await store.import({
      users: [
        { _id: 'tokenless', username: 'tokenless', roles: ['user'] },
        { _id: 'logged-out', username: 'logged-out', roles: ['user'], services: { resume: { loginTokens: [] } } }
      ]
    })
    t.equal(await store.findUserByLoginToken('tokenless', ''), null, 'a user without services')
    t.equal(await store.findUserByLoginToken('logged-out', hashLoginToken('x')), null, 'a user without login tokens')
    same(t, await store.findUserByLoginToken('nameless', hashLoginToken(TOKENS.nameless)), pick('users', 'nameless'), 'a user without a username')
  })

  await it('finds a user by exact username', async (t, store) => {
    same(t, await store.findUser('bob'), pick('users', 'bob'), 'hit')
    t.equal(await store.findUser('nobody'), null, 'miss')
    t.equal(await store.findUser('Bob'), null, 'case matters')
    t.equal(await store.findUser('@bob'), null, 'the caller strips a leading @, not the store')
    same(t, await store.findUser('nameless'), pick('users', 'nameless'), 'a user without a username is found by _id')
    same(t, await store.findUser('alice'), pick('users', 'alice'), 'by _id')
  })

  await it('finds a room by id, whatever its type', async (t, store) => {
    same(t, await store.findRoomById('alicebob'), pick('rooms', 'alicebob'), 'a DM')
    same(t, await store.findRoomById('general'), pick('rooms', 'general'), 'a channel')
    t.equal(await store.findRoomById('nope'), null, 'miss')
    t.equal(await store.findRoomById(''), null, 'empty id')
  })

  await it('finds a DM by its exact set of member ids', async (t, store) => {
    const alicebob = pick('rooms', 'alicebob')
    same(t, await store.findDirectRoom(['alice', 'bob']), alicebob, 'a 1:1 DM')
    same(t, await store.findDirectRoom(['bob', 'alice']), alicebob, 'in any order')
    same(t, await store.findDirectRoom(['alice']), pick('rooms', 'self-alice'), 'one id: the self-DM')
    same(t, await store.findDirectRoom(['alice', 'alice']), pick('rooms', 'self-alice'), 'a repeated id: the self-DM')
    t.equal(await store.findDirectRoom(['bob']), null, 'no self-DM')
    t.equal(await store.findDirectRoom(['alice', 'carol']), null, 'two members of a multi-user DM do not find it')
    same(t, await store.findDirectRoom(['carol', 'bob', 'alice']), pick('rooms', 'group-dm'), 'the whole member set does')
    await store.import({ rooms: [{ _id: 'group-ac', t: 'p', uids: ['alice', 'carol'] }] })
    t.equal(await store.findDirectRoom(['alice', 'carol']), null, 'a room of another type with those members is no DM')
    t.equal(await store.findDirectRoom(['alice', 'nobody']), null, 'an unknown member')
  })

  await it('finds a subscription by room and user', async (t, store) => {
    same(t, await store.findSubscription('group-dm', 'carol'), pick('subscriptions', 's-group-dm-carol'), 'hit, roles and all')
    t.equal(await store.findSubscription('alicebob', 'carol'), null, 'not a member')
    t.equal(await store.findSubscription('nope', 'alice'), null, 'no such room')
  })

  await it('erases a DM, its discussions (nested) and everything they hold, and nothing else', async (t, store) => {
    const before = await store.dump()
    const result = await store.eraseRoom('alicebob') as EraseResult
    t.equal(result.rooms[0]._id, 'alicebob', 'the DM comes first')
    same(t, [...result.rooms].sort(byId), ALICEBOB_TREE.rooms.map((id) => pick('rooms', id)), 'the rooms removed')
    same(t, [...result.uploads].sort(byId), ALICEBOB_TREE.uploads.map((id) => pick('uploads', id)), 'every upload of the tree, orphans included')
    same(t, result.removed, {
      messages: ALICEBOB_TREE.messages.length,
      subscriptions: ALICEBOB_TREE.subscriptions.length,
      uploads: ALICEBOB_TREE.uploads.length,
      readReceipts: ALICEBOB_TREE.readReceipts.length,
      discussions: ALICEBOB_TREE.rooms.length - 1
    }, 'the counts')
    same(t, await store.dump(), without(before, ALICEBOB_TREE), 'exactly the tree is gone')
    t.equal(await store.findRoomById('disc-1-1'), null, 'a nested discussion is gone')
    t.equal(await store.findDirectRoom(['alice', 'bob']), null, 'the DM is no longer found by its members')
    t.equal(await store.findSubscription('alicebob', 'alice'), null, 'nor its subscriptions')
  })

  await it('erases a DM without discussions or uploads', async (t, store) => {
    const before = await store.dump()
    const result = await store.eraseRoom('adminalice')
    same(t, result, {
      rooms: [pick('rooms', 'adminalice')],
      uploads: [],
      subscriptions: [pick('subscriptions', 's-adminalice-admin'), pick('subscriptions', 's-adminalice-alice')],
      removed: { messages: 1, subscriptions: 2, uploads: 0, readReceipts: 0, discussions: 0 }
    }, 'the result')
    same(t, await store.dump(), without(before, { rooms: ['adminalice'], messages: ['m-aa-1'], subscriptions: ['s-adminalice-admin', 's-adminalice-alice'] }), 'only that DM is gone')
  })

  await it('erases a discussion without its parent', async (t, store) => {
    const before = await store.dump()
    const result = await store.eraseRoom('disc-1')
    same(t, result?.removed, { messages: 2, subscriptions: 2, uploads: 1, readReceipts: 1, discussions: 1 }, 'the counts')
    same(t, await store.dump(), without(before, {
      rooms: ['disc-1', 'disc-1-1'],
      messages: ['m-d1-1', 'm-d11-1'],
      subscriptions: ['s-disc-1-alice', 's-disc-1-1-bob'],
      uploads: ['up-d11-1'],
      readReceipts: ['rr-d1-1']
    }), 'the parent DM and its own content stay')
  })

  await it('a discussion cycle (bad data, imported at once) is erased once, without looping', async (t, store) => {
    const before = await store.dump()
    await store.import({
      rooms: [{ _id: 'cycle-a', t: 'd', uids: ['x', 'y'], prid: 'cycle-b' }, { _id: 'cycle-b', t: 'p', prid: 'cycle-a' }],
      messages: [{ _id: 'cycle-m', rid: 'cycle-b', msg: 'x' }]
    })
    const result = await store.eraseRoom('cycle-a')
    t.strictSame(result?.rooms.map((room) => room._id), ['cycle-a', 'cycle-b'], 'each room once, the DM first')
    t.equal(result?.removed.messages, 1, 'with what they held')
    same(t, await store.dump(), before, 'nothing of them is left')
  })

  await it('erasing a room that is not there resolves to null and changes nothing', async (t, store) => {
    const before = await store.dump()
    t.equal(await store.eraseRoom('nope'), null, 'never existed')
    same(t, await store.dump(), before, 'nothing changed')
    t.ok(await store.eraseRoom('self-alice'), 'first erase')
    const after = await store.dump()
    t.equal(await store.eraseRoom('self-alice'), null, 'already erased')
    same(t, await store.dump(), after, 'nothing more changed')
  })

  await it('of two concurrent erases of one room, one erases and the other finds it gone', async (t, store) => {
    const before = await store.dump()
    const results = await Promise.all([store.eraseRoom('alicebob'), store.eraseRoom('alicebob')])
    const done = results.filter((result) => result !== null)
    t.equal(done.length, 1, 'exactly one erase happened')
    t.equal(results.filter((result) => result === null).length, 1, 'the other resolved to null')
    same(t, done[0]?.removed.messages, ALICEBOB_TREE.messages.length, 'the one erase saw the whole room')
    same(t, await store.dump(), without(before, ALICEBOB_TREE), 'the tree is gone, once')
  })

  await it('import replaces documents by _id', async (t, store) => {
    const renamed: User = { ...pick('users', 'alice'), username: 'alice2', services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('new') }] } } }
    const moved: Room = { ...pick('rooms', 'alicebob'), uids: ['bob', 'carol'] }
    const unlinked: Room = { _id: 'disc-1', t: 'p', fname: 'no longer a discussion' }
    await store.import({
      users: [renamed],
      rooms: [moved, unlinked],
      subscriptions: [{ ...pick('subscriptions', 's-alicebob-bob'), u: { _id: 'carol', username: 'carol' } }],
      messages: [{ ...pick('messages', 'm-ab-3'), rid: 'adminalice' }, { ...pick('messages', 'm-gen-1'), msg: 'first' }, { ...pick('messages', 'm-gen-1'), msg: 'last' }]
    })
    same(t, await store.findUser('alice2'), renamed, 'found by the new username')
    same(t, await store.findUser('alice'), renamed, 'by _id still, with the new username')
    t.equal(await store.findUserByLoginToken('alice', hashLoginToken(TOKENS.alice)), null, 'the old tokens are gone')
    same(t, await store.findUserByLoginToken('alice', hashLoginToken('new')), renamed, 'the new token authenticates')
    t.equal(await store.findDirectRoom(['alice', 'bob']), null, 'the DM is no longer found by its old members')
    same(t, await store.findDirectRoom(['carol', 'bob']), moved, 'but by its new ones')
    t.equal(await store.findSubscription('alicebob', 'bob'), null, 'the subscription left its old user')
    t.ok(await store.findSubscription('alicebob', 'carol'), 'for its new one')
    const dump = await store.dump()
    for (const collection of COLLECTIONS) t.equal(dump[collection].length, fixture()[collection].length, `no ${collection} added`)
    same(t, dump.messages.find((doc) => doc._id === 'm-gen-1')?.msg, 'last', 'within one import, the last document with an _id wins')
    const result = await store.eraseRoom('alicebob')
    same(t, result?.removed, { messages: 2, subscriptions: 2, uploads: 2, readReceipts: 2, discussions: 0 }, 'an erase follows the replaced documents')
    same(t, await store.findRoomById('disc-1'), unlinked, 'a discussion unlinked from the room stays')
  })

  await it('import refuses a document without a string _id, or a room-owned one without a string rid', async (t, store) => {
    const before = await store.dump()
    await t.rejects(store.import({ users: [{ username: 'no-id' } as unknown as User] }), TypeError, 'a user without _id')
    await t.rejects(store.import({
      users: [{ _id: 'valid', username: 'valid' }],
      messages: [{ _id: 'no-rid', msg: 'x' } as unknown as Dump['messages'][number]]
    }), TypeError, 'a message without rid')
    same(t, await store.dump(), before, 'nothing of a refused import was added')
  })

  await it('import refuses a document naming a room that is neither in the store nor in the import, and adds nothing', async (t, store) => {
    const before = await store.dump()
    const room: Room = { _id: 'new-room', t: 'c' }
    const strays: Dataset[] = [
      { subscriptions: [{ _id: 'stray', rid: 'nowhere', u: { _id: 'alice' } }] },
      { messages: [{ _id: 'stray', rid: 'nowhere', msg: 'x' }] },
      { uploads: [{ _id: 'stray', rid: 'nowhere' }] },
      { readReceipts: [{ _id: 'stray', rid: 'nowhere', messageId: 'm-ab-1', userId: 'bob' }] },
      { rooms: [{ _id: 'stray', t: 'p', prid: 'nowhere' }] },
      // A document moved to a room that is not there is refused like a new one.
      { messages: [{ ...pick('messages', 'm-ab-1'), rid: 'nowhere' }] }
    ]
    for (const stray of strays) {
      await t.rejects(store.import({ ...stray, rooms: [room, ...stray.rooms ?? []] }), Error, `refused: ${JSON.stringify(stray)}`)
    }
    same(t, await store.dump(), before, 'nothing was added, not even the room the import brought')
  })

  await it('import takes rooms with what they hold, a discussion even before its parent', async (t, store) => {
    await store.import({
      rooms: [{ _id: 'new-disc', t: 'p', prid: 'new-dm' }, { _id: 'new-dm', t: 'd', uids: ['bob', 'carol'] }],
      messages: [{ _id: 'new-m', rid: 'new-dm', msg: 'x' }, { _id: 'new-dm-1', rid: 'new-disc', msg: 'y' }],
      subscriptions: [{ _id: 'new-s', rid: 'new-dm', u: { _id: 'bob' } }]
    })
    await store.import({ uploads: [{ _id: 'new-up', rid: 'new-disc' }], readReceipts: [{ _id: 'new-rr', rid: 'new-dm', messageId: 'new-m', userId: 'carol' }] })
    same(t, (await store.eraseRoom('new-dm'))?.removed, { messages: 2, subscriptions: 1, uploads: 1, readReceipts: 1, discussions: 1 }, 'erased together')
    t.equal(orphans(await store.dump()).length, 0, 'no orphan left')
  })

  await it('an import racing an erase of the room it writes to leaves no orphan', async (t, store) => {
    const late = { _id: 'late', rid: 'alicebob', msg: 'sent while the DM was erased' }
    const [imported, erased] = await Promise.allSettled([store.import({ messages: [late] }), store.eraseRoom('alicebob')])
    t.equal(erased.status, 'fulfilled', 'the erase succeeds')
    const dump = await store.dump()
    t.equal(dump.rooms.some((room) => room._id === 'alicebob'), false, 'the DM is gone')
    same(t, orphans(dump), [], 'no document outlives its room: the import failed, or the erase took its message too')
    t.equal((erased as PromiseFulfilledResult<EraseResult>).value.removed.messages,
      ALICEBOB_TREE.messages.length + Number(imported.status === 'fulfilled'), `the import ${imported.status}: the messages erased agree`)
  })

  await it('dump has every collection sorted by _id, and documents round-trip', async (t, store) => {
    same(t, await store.dump(), sorted(fixture()), 'the fixture, sorted')
    const dated: Dataset = {
      users: [{ _id: 'dated', username: 'dated', services: { resume: { loginTokens: [{ hashedToken: 'h', when: new Date('2026-02-03T04:05:06.789Z') }] } } }],
      rooms: [{ _id: 'dated-room', t: 'c', ts: new Date('2026-01-02T03:04:05.678Z'), nested: { list: [1, 2.5, 'x', true, null, { deep: {} }] } }]
    }
    await store.import(dated)
    same(t, await store.findRoomById('dated-room'), dated.rooms?.[0], 'dates and nested values survive')
    same(t, await store.findUserByLoginToken('dated', 'h'), dated.users?.[0], 'a date in a login token too')
    const dump = await store.dump()
    const { store: copy, teardown } = await create()
    try {
      same(t, await copy.dump(), { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] }, 'an empty store dumps empty collections')
      await copy.import(dump)
      same(t, await copy.dump(), dump, 'a dump imported elsewhere dumps the same')
    } finally {
      await teardown?.()
    }
  })
}
export { fixture, ALICEBOB_TREE, TOKENS, authHeaders, type Who } from './fixture.js'
