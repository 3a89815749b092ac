import { ALICEBOB_TREE, TOKENS, fixture } from '../fixture.js'
import { hashLoginToken } from '../auth.js'
import type { ImDeleteStore } from '../store.js'
import type { Dataset, Dump, EraseResult, Room, User } from '../types.js'
import type { Check } from './check.js'

/** A store the full-fidelity level drives: the use case's methods plus loading and reading every document. */
// The blob capability is optional for a store, and outside what the kit checks.
export interface DocumentStore extends Required<Omit<ImDeleteStore, 'blobs' | 'purge'>> {
  import: (dataset: Dataset) => Promise<void>
  dump: () => Promise<Dump>
}

type Collection = keyof Dump
const COLLECTIONS: Collection[] = ['users', 'rooms', 'subscriptions', 'messages', 'uploads', 'readReceipts']

const byId = (a: { _id: string }, b: { _id: string }): number => Number(a._id > b._id) - Number(a._id < b._id)

function sorted (dataset: Required<Dataset>): Dump {
  return Object.fromEntries(COLLECTIONS.map((name) => [name, [...dataset[name]].sort(byId)])) as Dump
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

/** Any rejection counts (pg's DatabaseError is no `Error` subclass by name). */
async function rejects (check: Check, promise: Promise<unknown>, message: string): Promise<void> {
  const [settled] = await Promise.allSettled([promise])
  check.ok(settled.status === 'rejected', message)
}

/** A fresh store of the same kind, empty, and how to drop it. */
export type CreateStore = () => Promise<{ store: DocumentStore, teardown?: () => Promise<void> }>

export type DocumentCase = (check: Check, store: DocumentStore, create: CreateStore) => Promise<void>

/**
 * The full-fidelity level, for document stores (\`supports.documents\`): every case runs on a fresh
 * store holding the fixture, imported; lookups and dumps must give the documents back as imported.
 */
export const DOCUMENT_CASES: Array<[title: string, run: DocumentCase]> = []
const it = (title: string, run: DocumentCase): void => { DOCUMENT_CASES.push([title, run]) }

// What the behaviour cases check of each lookup and erase in the plugin's terms, here of the
// documents themselves: every field as imported.
it('lookups and the erase hand back the documents as imported, whole', async (check, store) => {
  const alice = pick('users', 'alice')
  check.same(await store.findUserByLoginToken('alice', hashLoginToken(TOKENS.alice)), alice, 'findUserByLoginToken')
  check.same(await store.findUser('alice'), alice, 'findUser, by _id')
  check.same(await store.findUser('bob'), pick('users', 'bob'), 'findUser, by username')
  check.same(await store.findUser('nameless'), pick('users', 'nameless'), 'findUser, a user without a username')
  check.same(await store.findRoomById('general'), pick('rooms', 'general'), 'findRoomById')
  check.same(await store.findDirectRoom(['bob', 'alice']), pick('rooms', 'alicebob'), 'findDirectRoom')
  check.same(await store.findSubscription('group-dm', 'carol'), pick('subscriptions', 's-group-dm-carol'), 'findSubscription, roles and all')
  check.same(await store.findNamed('alicebob', 'alice'), { user: null, room: pick('rooms', 'alicebob'), subscription: pick('subscriptions', 's-alicebob-alice') }, 'findNamed')
  const before = await store.dump()
  const result = await store.eraseRoom('alicebob') as EraseResult
  check.same(result.rooms[0]?._id, 'alicebob', 'the DM comes first')
  check.same([...result.rooms].sort(byId), ALICEBOB_TREE.rooms.map((id) => pick('rooms', id)).sort(byId), 'the rooms removed')
  check.same([...result.uploads].sort(byId), ALICEBOB_TREE.uploads.map((id) => pick('uploads', id)).sort(byId), 'the uploads removed, orphans included')
  check.same([...result.subscriptions].sort(byId), ALICEBOB_TREE.subscriptions.map((id) => pick('subscriptions', id)).sort(byId), 'the subscriptions removed')
  check.same(await store.dump(), without(before, ALICEBOB_TREE), 'the dump: exactly the tree is gone')
})

it('a discussion cycle (bad data, imported at once) is erased once, without looping', async (check, store, create) => {
  const before = await store.dump()
  await store.import({
    rooms: [{ _id: 'cycle-a', t: 'd', uids: ['x', 'y'], prid: 'cycle-b' }, { _id: 'cycle-b', t: 'p', prid: 'cycle-a' }],
    messages: [{ _id: 'cycle-m', rid: 'cycle-b', msg: 'x' }]
  })
  const result = await store.eraseRoom('cycle-a')
  check.same(result?.rooms.map((room) => room._id), ['cycle-a', 'cycle-b'], 'each room once, the DM first')
  check.same(result?.removed.messages, 1, 'with what they held')
  check.same(await store.dump(), before, 'nothing of them is left')
})

it('import replaces documents by _id', async (check, store, create) => {
  const renamed: User = { ...pick('users', 'alice'), username: 'alice2', services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('new') }] } } }
  const moved: Room = { ...pick('rooms', 'alicebob'), uids: ['bob', 'carol'] }
  const unlinked: Room = { _id: 'disc-1', t: 'p', fname: 'no longer a discussion' }
  await store.import({
    users: [renamed],
    rooms: [moved, unlinked],
    subscriptions: [{ ...pick('subscriptions', 's-alicebob-bob'), u: { _id: 'carol', username: 'carol' } }],
    messages: [{ ...pick('messages', 'm-ab-3'), rid: 'adminalice' }, { ...pick('messages', 'm-gen-1'), msg: 'first' }, { ...pick('messages', 'm-gen-1'), msg: 'last' }]
  })
  check.same(await store.findUser('alice2'), renamed, 'found by the new username')
  check.same(await store.findUser('alice'), renamed, 'by _id still, with the new username')
  check.same(await store.findUserByLoginToken('alice', hashLoginToken(TOKENS.alice)), null, 'the old tokens are gone')
  check.same(await store.findUserByLoginToken('alice', hashLoginToken('new')), renamed, 'the new token authenticates')
  check.same(await store.findDirectRoom(['alice', 'bob']), null, 'the DM is no longer found by its old members')
  check.same(await store.findDirectRoom(['carol', 'bob']), moved, 'but by its new ones')
  check.same(await store.findSubscription('alicebob', 'bob'), null, 'the subscription left its old user')
  check.ok(await store.findSubscription('alicebob', 'carol') !== null, 'for its new one')
  const dump = await store.dump()
  for (const collection of COLLECTIONS) check.same(dump[collection].length, fixture()[collection].length, `no ${collection} added`)
  check.same(dump.messages.find((doc) => doc._id === 'm-gen-1')?.msg, 'last', 'within one import, the last document with an _id wins')
  const result = await store.eraseRoom('alicebob')
  check.same(result?.removed, { messages: 2, subscriptions: 2, uploads: 2, readReceipts: 2, discussions: 0 }, 'an erase follows the replaced documents')
  check.same(await store.findRoomById('disc-1'), unlinked, 'a discussion unlinked from the room stays')
})

it('import refuses a document without a string _id, or a room-owned one without a string rid', async (check, store, create) => {
  const before = await store.dump()
  await rejects(check, store.import({ users: [{ username: 'no-id' } as unknown as User] }), 'a user without _id')
  await rejects(check, store.import({
    users: [{ _id: 'valid', username: 'valid' }],
    messages: [{ _id: 'no-rid', msg: 'x' } as unknown as Dump['messages'][number]]
  }), 'a message without rid')
  check.same(await store.dump(), before, 'nothing of a refused import was added')
})

it('import refuses a document naming a room that is neither in the store nor in the import, and adds nothing', async (check, store, create) => {
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
    await rejects(check, store.import({ ...stray, rooms: [room, ...stray.rooms ?? []] }), `refused: ${JSON.stringify(stray)}`)
  }
  check.same(await store.dump(), before, 'nothing was added, not even the room the import brought')
})

it('import takes rooms with what they hold, a discussion even before its parent', async (check, store, create) => {
  await store.import({
    rooms: [{ _id: 'new-disc', t: 'p', prid: 'new-dm' }, { _id: 'new-dm', t: 'd', uids: ['bob', 'carol'] }],
    messages: [{ _id: 'new-m', rid: 'new-dm', msg: 'x' }, { _id: 'new-dm-1', rid: 'new-disc', msg: 'y' }],
    subscriptions: [{ _id: 'new-s', rid: 'new-dm', u: { _id: 'bob' } }]
  })
  await store.import({ uploads: [{ _id: 'new-up', rid: 'new-disc' }], readReceipts: [{ _id: 'new-rr', rid: 'new-dm', messageId: 'new-m', userId: 'carol' }] })
  check.same((await store.eraseRoom('new-dm'))?.removed, { messages: 2, subscriptions: 1, uploads: 1, readReceipts: 1, discussions: 1 }, 'erased together')
  check.same(orphans(await store.dump()).length, 0, 'no orphan left')
})

it('an import racing an erase of the room it writes to leaves no orphan', async (check, store, create) => {
  const late = { _id: 'late', rid: 'alicebob', msg: 'sent while the DM was erased' }
  const [imported, erased] = await Promise.allSettled([store.import({ messages: [late] }), store.eraseRoom('alicebob')])
  check.same(erased.status, 'fulfilled', 'the erase succeeds')
  const dump = await store.dump()
  check.same(dump.rooms.some((room) => room._id === 'alicebob'), false, 'the DM is gone')
  check.same(orphans(dump), [], 'no document outlives its room: the import failed, or the erase took its message too')
  check.same((erased as PromiseFulfilledResult<EraseResult>).value.removed.messages,
    ALICEBOB_TREE.messages.length + Number(imported.status === 'fulfilled'), `the import ${imported.status}: the messages erased agree`)
})

it('dump has every collection sorted by _id, and documents round-trip', async (check, store, create) => {
  check.same(await store.dump(), sorted(fixture()), 'the fixture, sorted')
  const dated: Dataset = {
    users: [{ _id: 'dated', username: 'dated', services: { resume: { loginTokens: [{ hashedToken: 'h', when: new Date('2026-02-03T04:05:06.789Z') }] } } }],
    rooms: [{ _id: 'dated-room', t: 'c', ts: new Date('2026-01-02T03:04:05.678Z'), nested: { list: [1, 2.5, 'x', true, null, { deep: {} }] } }]
  }
  await store.import(dated)
  check.same(await store.findRoomById('dated-room'), dated.rooms?.[0], 'dates and nested values survive')
  check.same(await store.findUserByLoginToken('dated', 'h'), dated.users?.[0], 'a date in a login token too')
  const dump = await store.dump()
  const { store: copy, teardown } = await create()
  try {
    check.same(await copy.dump(), { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] }, 'an empty store dumps empty collections')
    await copy.import(dump)
    check.same(await copy.dump(), dump, 'a dump imported elsewhere dumps the same')
  } finally {
    await teardown?.()
  }
})
