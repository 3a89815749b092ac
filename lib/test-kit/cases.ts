import { hashLoginToken } from '../auth.js'
import type { ImDeleteStore, PurgeStep, PurgeSteps } from '../store.js'
import { TOKENS, kitWorld } from '../fixture.js'
import type { Dataset, Dump, EraseResult, RemovedCounts, Room, Subscription, Upload, User } from '../types.js'
import { show, type Check } from './check.js'
import type { KitKind, KitTarget } from './types.js'

/** The behaviour cases' titles: what a failure is reported under. */
export const CASES = {
  loginToken: 'findUserByLoginToken: a held token finds its user; any other token, an unknown user or a deactivated one finds none',
  loginTokenEnded: 'findUserByLoginToken: a token that no longer counts (expired or revoked, through expireToken) finds none; the user\'s other tokens still do',
  user: 'findUser: by _id first, else by exact username',
  room: 'findRoomById: rooms of every type, by id',
  livechat: 'findRoomById: a livechat room',
  directRoom: 'findDirectRoom: the room of type d with exactly this member set',
  subscription: 'findSubscription: by room and user, with its roles; a membership its user closed (open: false) too',
  named: 'findNamed: the user, the room and the subscription a key names, as findUser, findRoomById and findSubscription answer them',
  unstorable: 'every lookup: a key no row can hold (a NUL, a lone surrogate) finds nothing, and is no error',
  eraseTree: 'eraseRoom: a DM, its discussions (nested), their messages (thread replies too), uploads (those no message points to too), subscriptions and read receipts, and nothing else',
  eraseCounts: 'eraseRoom with { documents: false }: the same rows go, and the counts say so',
  eraseSmall: 'eraseRoom: a DM without messages, and a self-DM',
  eraseDiscussion: 'eraseRoom: a discussion alone; its parent stays',
  eraseGone: 'eraseRoom: null for a room that is not there or already erased, and nothing changes',
  atomic: 'eraseRoom is all or nothing: an erase failing after any of its writes changes nothing',
  raceErases: 'eraseRoom: of many concurrent erases of one DM, exactly one erases it and the others resolve to null',
  raceWrite: 'eraseRoom racing a message written into the room: the erase succeeds, and no message outlives its room',
  purge: 'purge: an erase with more rows than its batchSize hides the DM at once (no lookup finds it, its subscriptions gone), then steps remove the rest to the last row, a message written meanwhile included; a step failing after any write changes nothing, and the next resumes',
  purgeRace: 'purge: callers stepping at once never fail, never hand out one upload twice, and finish every purge exactly once',
  roundTrip: 'import and dump (supports.documents): every collection sorted by _id, documents as imported (dates, nested values); a dump imported elsewhere dumps the same',
  imports: 'import (supports.documents): replaces documents by _id, takes a discussion before its parent, and a discussion cycle is erased once',
  refused: 'import (supports.documents): a document without a string _id or rid, or naming a room that is not there, is refused, and nothing of the import added'
} as const

export type RowKind = Exclude<KitKind, 'user'>
export const ROW_KINDS: RowKind[] = ['room', 'subscription', 'message', 'upload', 'readReceipt']
export type Rows = Record<RowKind, string[]>

type Tree = Record<'rooms' | 'messages' | 'subscriptions' | 'uploads' | 'readReceipts', string[]>

const TREE_KIND: Record<RowKind, keyof Tree> = {
  room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'readReceipts'
}

/** One case's target with the world loaded, seen through the store author's ids. */
export interface Opened {
  target: KitTarget
  store: ImDeleteStore
  world: Required<Dataset>
  /** The store, when it is a document store (supports.documents): documents are then compared whole. */
  whole: DocumentStore | null
  /** The store's id for a kit id. */
  id: (kind: KitKind, kitId: string) => string
  /** The store's ids of every row of each kind, sorted. */
  rows: () => Promise<Rows>
  /** A store id as a failure message shows it: with the kit's id when they differ. */
  named: (kind: KitKind, id: string) => string
  /** Writes a message (kit ids) into a room through the target's writeMessage, as a chat server would. */
  write: (kitId: string, kitRoom: string) => Promise<void>
}

/** A fresh target, the world loaded into it unless `load` is false. */
export type Open = (load?: boolean) => Promise<Opened>

/** A store the document cases drive: loading and reading every document. */
export interface DocumentStore extends ImDeleteStore {
  import: (dataset: Dataset) => Promise<void>
  dump: () => Promise<Dump>
}

const sorted = (values: readonly string[]): string[] => [...new Set(values)].sort()

// What the plugin reads of a document, or the whole document of a document store.
function userView (o: Opened, user: User | null): unknown {
  return user === null || o.whole !== null ? user : { _id: user._id, username: user.username, roles: sorted(user.roles ?? []), active: user.active !== false }
}

function roomView (o: Opened, room: Room | null): unknown {
  if (room === null || o.whole !== null) return room
  return { _id: room._id, t: room.t, federated: room.federated === true, ...room.t === 'd' ? { uids: sorted(room.uids ?? []) } : {} }
}

function subscriptionView (o: Opened, sub: Subscription | null): unknown {
  return sub === null || o.whole !== null ? sub : { rid: sub.rid, u: sub.u?._id, roles: sorted(sub.roles ?? []) }
}

/** Compares rows by id, saying which are left behind and which went though they should stay. */
function sameRows (check: Check, opened: Opened, found: Rows, wanted: Rows, message: string): boolean {
  const problems: string[] = []
  for (const kind of ROW_KINDS) {
    const stay = new Set(wanted[kind])
    const left = found[kind].filter((id) => !stay.has(id))
    const gone = wanted[kind].filter((id) => !found[kind].includes(id))
    if (left.length > 0) problems.push(`${kind} rows that should be gone are still there: ${left.map((id) => opened.named(kind, id)).join(', ')}`)
    if (gone.length > 0) problems.push(`${kind} rows that should stay are gone: ${gone.map((id) => opened.named(kind, id)).join(', ')}`)
  }
  check.ok(problems.length === 0, problems.length === 0 ? message : `${message}: ${problems.join('; ')}`)
  return problems.length === 0
}

function minusTree (opened: Opened, before: Rows, tree: Tree): Rows {
  return Object.fromEntries(ROW_KINDS.map((kind) => {
    const gone = new Set(tree[TREE_KIND[kind]].map((kitId) => opened.id(kind, kitId)))
    return [kind, before[kind].filter((id) => !gone.has(id))]
  })) as Rows
}

const byId = (a: { _id: string }, b: { _id: string }): number => Number(a._id > b._id) - Number(a._id < b._id)

function find<T extends { _id: string }> (docs: readonly T[], kitId: string): T {
  return docs.find((doc) => doc._id === kitId) as T
}

/** What the plugin reads from a world user, in the store's ids. */
function wantedUser (opened: Opened, kitId: string): unknown {
  const user = find(opened.world.users, kitId)
  return userView(opened, { ...user, _id: opened.id('user', kitId) })
}

/** What the plugin reads from a world room, in the store's ids; null for one the world leaves out (see `supports`). */
function wantedRoom (opened: Opened, kitId: string): unknown {
  const room = opened.world.rooms.find((doc) => doc._id === kitId)
  if (room === undefined) return null
  return roomView(opened, { ...room, _id: opened.id('room', kitId), uids: room.uids?.map((uid) => opened.id('user', uid)) })
}

/** An erase's result against the kit ids of what it should have removed; `root` comes first. */
function checkResult (check: Check, opened: Opened, result: EraseResult | null, tree: Tree, documents: boolean): void {
  if (!check.ok(result !== null, 'the erase resolves to a result, not null (the room was there)')) return
  const { world, id } = opened
  const r = result as EraseResult
  check.same(r.removed, counts(tree), 'removed: the counts of what went')
  if (!documents) return
  const roomIds = tree.rooms.map((kitId) => id('room', kitId))
  check.same(r.rooms[0]?._id, roomIds[0], 'rooms: the erased room comes first')
  check.same(r.rooms.map((room) => ({ _id: room._id, t: room.t })).sort(byId),
    tree.rooms.map((k) => ({ _id: id('room', k), t: find(world.rooms, k).t })).sort(byId), 'rooms: the ids and types of the rooms removed')
  check.same(sorted(r.uploads.map((upload) => upload._id)), sorted(tree.uploads.map((k) => id('upload', k))), 'uploads: the ids of the upload records handed back')
  check.ok(r.uploads.every((upload) => roomIds.includes(upload.rid)), `uploads: each names one of the rooms removed (rid): ${show(r.uploads.map((upload) => upload.rid))}`)
  check.same(sorted(r.subscriptions.map((sub) => sub._id)), sorted(tree.subscriptions.map((k) => id('subscription', k))), 'subscriptions: the ids of the subscriptions handed back')
  check.same(
    [...r.subscriptions].sort(byId).map((sub) => ({ _id: sub._id, rid: sub.rid, u: sub.u?._id })),
    tree.subscriptions.map((k) => {
      const sub = find(world.subscriptions, k)
      return { _id: id('subscription', k), rid: id('room', sub.rid), u: id('user', sub.u._id) }
    }).sort(byId),
    'subscriptions: each with its room (rid) and user (u._id)')
  if (opened.whole === null) return
  for (const name of ['rooms', 'uploads', 'subscriptions'] as const) {
    check.same([...r[name]].sort(byId), tree[name].map((k) => find<{ _id: string }>(world[name], k)).sort(byId), `${name}: each document whole, as loaded`)
  }
}

/** A dump without the documents of a tree (kit ids). */
function without (dump: Dump, tree: Tree): Dump {
  return Object.fromEntries(Object.entries(dump).map(([name, docs]: [string, Array<{ _id: string }>]) =>
    [name, docs.filter((doc) => !(tree[name as keyof Tree] ?? []).includes(doc._id))])) as Dump
}

// What an erase of the DM alicebob, or of its discussion disc-1, removes (the world's other rooms stay whatever `supports` says).
const TREE = treeOf(kitWorld(), 'alicebob')
const DISC_TREE = treeOf(kitWorld(), 'disc-1')
const empty = (rooms: string[], subscriptions: string[], messages: string[] = []): Tree => ({ rooms, subscriptions, messages, uploads: [], readReceipts: [] })

/** The most writes the kit arms a fault for before it decides the fault never stops firing. */
const MAX_WRITES = 64
/** How many erases of one DM race each other. */
const RACERS = 8
/** The most messages each writer racing an erase writes (it stops when the erase settles). */
const MAX_LATE = 200

export interface CaseOptions {
  raceRounds: number
}

export type Case = (check: Check, open: Open, options: CaseOptions) => Promise<void>

/** Erases one room (by kit id) of a fresh target: checks the result, and that exactly `tree` went. The target, for more checks. */
async function eraseAndCompare (check: Check, open: Open, kitRoom: string, tree: Tree, documents: boolean, message: string): Promise<Opened> {
  const o = await open()
  const before = await o.rows()
  const dump = await o.whole?.dump()
  checkResult(check, o, await o.store.eraseRoom(o.id('room', kitRoom), documents ? undefined : { documents: false }), tree, documents)
  sameRows(check, o, await o.rows(), minusTree(o, before, tree), message)
  if (o.whole !== null) check.same(await o.whole.dump(), without(dump as Dump, tree), 'the dump: exactly those documents are gone, every other as loaded')
  return o
}

/** The kit ids of a room's tree in the world: the room, its discussions (nested) and what they hold. */
function treeOf (world: Required<Dataset>, kitRoom: string): Tree {
  const rooms = [kitRoom]
  for (let i = 0; i < rooms.length; i++) {
    for (const room of world.rooms) if (room.prid === rooms[i] && !rooms.includes(room._id)) rooms.push(room._id)
  }
  const of = (docs: ReadonlyArray<{ _id: string, rid: string }>): string[] => docs.filter((doc) => rooms.includes(doc.rid)).map((doc) => doc._id)
  return { rooms, messages: of(world.messages), subscriptions: of(world.subscriptions), uploads: of(world.uploads), readReceipts: of(world.readReceipts) }
}

/** Every lookup of the plugin's, asked for each room of the tree and each member: none may find any. */
async function unseen (check: Check, o: Opened, tree: Tree, when: string): Promise<boolean> {
  const { store, world, id } = o
  const alice = id('user', 'alice')
  const asked: Array<[string, unknown]> = []
  for (const kitRoom of tree.rooms) {
    const roomId = id('room', kitRoom)
    asked.push([`findRoomById('${roomId}')`, await store.findRoomById(roomId)])
    if (store.findNamed !== undefined) asked.push([`findNamed('${roomId}').room`, (await store.findNamed(roomId, alice)).room])
  }
  for (const kitSub of tree.subscriptions) {
    const sub = find(world.subscriptions, kitSub)
    asked.push([`findSubscription of '${kitSub}'`, await store.findSubscription(id('room', sub.rid), id('user', sub.u._id))])
  }
  const members = find(world.rooms, tree.rooms[0]).uids ?? []
  asked.push(['findDirectRoom of its members', await store.findDirectRoom(members.map((uid) => id('user', uid)))])
  return check.same(asked.filter(([, found]) => found !== null).map(([what]) => what), [], `${when}: no lookup finds the rooms or their subscriptions`)
}

/** The most steps a purge of the kit's world may take at batch size 1 (a store that never finishes fails here). */
const MAX_STEPS = 64

/** Whether the world holds this room (a schema without federation is handed none of the federated ones). */
const holds = (o: Opened, kitRoom: string): boolean => o.world.rooms.some((room) => room._id === kitRoom)

export const BEHAVIOUR: Record<keyof typeof CASES, { needs?: 'loginTokens' | 'tokenExpiry' | 'livechat' | 'findNamed' | 'purge' | 'documents', run: Case }> = {
  loginToken: {
    needs: 'loginTokens',
    async run (check, open) {
      const o = await open()
      const find = async (kitId: string, token: string): Promise<unknown> =>
        userView(o, await (o.store.findUserByLoginToken as NonNullable<ImDeleteStore['findUserByLoginToken']>)(o.id('user', kitId), hashLoginToken(token)))
      check.same(await find('alice', TOKENS.alice), wantedUser(o, 'alice'), 'the current token')
      check.same(await find('alice', 'old-alice'), wantedUser(o, 'alice'), 'an older token the user still holds')
      check.same(await find('alice', TOKENS.bob), null, "another user's token")
      check.same(userView(o, await o.store.findUserByLoginToken?.(o.id('user', 'alice'), TOKENS.alice) ?? null), null, 'the token itself, not its hash')
      check.same(userView(o, await o.store.findUserByLoginToken?.(o.id('user', 'alice'), '') ?? null), null, 'an empty hash')
      check.same(await find('nobody', TOKENS.alice), null, 'an unknown user')
      check.same(await find('dave', TOKENS.dave), null, 'a deactivated user (active: false), with a token it holds')
      check.same(await find('u-erin', 'x'), null, 'a user without login tokens')
      check.same(await find('nameless', TOKENS.nameless), wantedUser(o, 'nameless'), 'a user without a username')
    }
  },
  loginTokenEnded: {
    needs: 'tokenExpiry',
    async run (check, open) {
      const o = await open()
      const { target, store } = o
      // The user is compared by id: how a token stops counting may change the user's document.
      const find = async (kitId: string, token: string): Promise<unknown> =>
        (await (store.findUserByLoginToken as NonNullable<ImDeleteStore['findUserByLoginToken']>)(o.id('user', kitId), hashLoginToken(token)))?._id ?? null
      if (!check.ok(typeof target.expireToken === 'function', 'the target has expireToken (or the harness says supports.tokenExpiry: false)')) return
      check.same(await find('alice', 'old-alice'), o.id('user', 'alice'), 'an older token, before it stops counting')
      await target.expireToken?.('alice', 'old-alice')
      check.same(await find('alice', 'old-alice'), null, 'that token, once it no longer counts')
      check.same(await find('alice', TOKENS.alice), o.id('user', 'alice'), "the user's current token still counts")
    }
  },
  user: {
    async run (check, open) {
      const o = await open()
      const find = async (idOrUsername: string): Promise<unknown> => userView(o, await o.store.findUser(idOrUsername))
      check.same(await find(o.id('user', 'alice')), wantedUser(o, 'alice'), 'by _id')
      check.same(await find('bob'), wantedUser(o, 'bob'), 'by username')
      check.same(await find('erin'), wantedUser(o, 'u-erin'), 'by a username that is not an _id')
      check.same(await find(o.id('user', 'u-erin')), wantedUser(o, 'u-erin'), "by _id first, though another user's username equals it")
      check.same(await find(o.id('user', 'nameless')), wantedUser(o, 'nameless'), 'a user without a username, by _id')
      check.same(await find(o.id('user', 'u-frank')), wantedUser(o, 'u-frank'), o.world.users.some((user) => user._id === 'u-frank' && user.roles !== undefined) ? 'a user given a role (supports.rolelessUsers: false)' : 'a user without roles')
      check.same(await find('dave'), wantedUser(o, 'dave'), 'a deactivated user is found (active: false)')
      check.same(await find('nobody'), null, 'an unknown username')
      check.same(await find('Bob'), null, 'case matters')
      check.same(await find('@bob'), null, 'the caller strips a leading @, not the store')
    }
  },
  room: {
    async run (check, open) {
      const o = await open()
      for (const [kitId, what] of [['alicebob', 'a DM'], ['group-dm', 'a DM of three'], ['self-alice', 'a self-DM'], ['fed-dm', 'a federated DM'],
        ['general', 'a channel'], ['secret', 'a private group'], ['disc-1', 'a discussion'], ['disc-1-1', 'a nested discussion']]) {
        check.same(roomView(o, await o.store.findRoomById(o.id('room', kitId))), wantedRoom(o, kitId), `${what} (${kitId})${holds(o, kitId) ? '' : ': none, the world leaves it out (supports)'}`)
      }
      check.same(await o.store.findRoomById(o.id('room', 'nope')), null, 'an unknown room')
      check.same(await o.store.findRoomById(''), null, 'an empty id')
    }
  },
  livechat: {
    needs: 'livechat',
    async run (check, open) {
      const o = await open()
      check.same(roomView(o, await o.store.findRoomById(o.id('room', 'livechat'))), wantedRoom(o, 'livechat'), 'a livechat room (type l)')
    }
  },
  directRoom: {
    async run (check, open) {
      const o = await open()
      const find = async (...kitIds: string[]): Promise<unknown> => roomView(o, await o.store.findDirectRoom(kitIds.map((k) => o.id('user', k))))
      check.same(await find('alice', 'bob'), wantedRoom(o, 'alicebob'), 'a 1:1 DM')
      check.same(await find('bob', 'alice'), wantedRoom(o, 'alicebob'), 'in any order')
      check.same(await find('alice'), wantedRoom(o, 'self-alice'), 'one id: the self-DM')
      check.same(await find('alice', 'alice'), wantedRoom(o, 'self-alice'), 'a repeated id: the self-DM')
      check.same(await find('bob'), null, 'no self-DM for this user')
      check.same(await find('carol', 'bob', 'alice'), wantedRoom(o, 'group-dm'), 'the whole member set of a DM of three')
      check.same(await find('bob', 'carol'), null, 'two of the three members of a DM of three: no DM')
      check.same(await find('alice', 'carol'), null, 'the members of a private group (and part of a DM of three): no DM')
      check.same(await find('admin', 'carol'), wantedRoom(o, 'fed-dm'), holds(o, 'fed-dm') ? 'a federated DM' : 'no DM: the world has no federated one (supports.federation: false)')
      check.same(await find('alice', 'nobody'), null, 'an unknown member')
    }
  },
  subscription: {
    async run (check, open) {
      const o = await open()
      const lookup = async (room: string, user: string): Promise<unknown> => subscriptionView(o, await o.store.findSubscription(o.id('room', room), o.id('user', user)))
      const wanted = (kitId: string): unknown => {
        const sub = find(o.world.subscriptions, kitId)
        return subscriptionView(o, { ...sub, rid: o.id('room', sub.rid), u: { ...sub.u, _id: o.id('user', sub.u._id) } })
      }
      check.same(await lookup('group-dm', 'carol'), wanted('s-group-dm-carol'), 'a member with a role in the room')
      check.same(await lookup('alicebob', 'alice'), wanted('s-alicebob-alice'), 'a member without one')
      check.same(await lookup('adminalice', 'alice'), wanted('s-adminalice-alice'), 'a membership its user closed (open: false)')
      check.same(await lookup('disc-1-1', 'bob'), wanted('s-disc-1-1-bob'), "a discussion's membership its user closed")
      check.same(await lookup('alicebob', 'carol'), null, 'not a member')
      check.same(await lookup('nope', 'alice'), null, 'no such room')
    }
  },
  named: {
    needs: 'findNamed',
    async run (check, open) {
      const o = await open()
      const store = o.store as Required<Pick<ImDeleteStore, 'findNamed'>> & ImDeleteStore
      // The plugin asks with a DM's id, a username or a user's id, ahead of knowing which it is.
      const keys: Array<[string, string]> = [
        [o.id('room', 'alicebob'), 'a DM by id'], [o.id('room', 'group-dm'), 'a DM of three by id'], [o.id('room', 'adminalice'), 'a DM alice closed by id'], [o.id('room', 'general'), 'a channel by id'],
        [o.id('room', 'disc-1'), 'a discussion by id'], ['bob', 'a username'], [o.id('user', 'alice'), "a user's _id"],
        [o.id('user', 'u-erin'), "a user's _id that is another user's username"], ['erin', 'a username that is not an _id'],
        [o.id('user', 'nameless'), 'a user without a username'], ['dave', 'a deactivated user'], ['Bob', 'case matters'], ['nope', 'nothing']
      ]
      for (const [key, what] of keys) {
        for (const subscriber of [undefined, 'alice', 'carol']) {
          const subscriberId = subscriber === undefined ? undefined : o.id('user', subscriber)
          const named = await store.findNamed(key, subscriberId)
          const apart = {
            user: userView(o, await store.findUser(key)),
            room: roomView(o, await store.findRoomById(key)),
            subscription: subscriberId === undefined ? null : subscriptionView(o, await store.findSubscription(key, subscriberId))
          }
          check.same({ user: userView(o, named.user), room: roomView(o, named.room), subscription: subscriptionView(o, named.subscription) }, apart,
            `${what} (${key}), ${subscriber === undefined ? 'no subscriber asked for' : `the subscription of ${subscriber}`}`)
        }
      }
    }
  },
  unstorable: {
    async run (check, open) {
      const o = await open()
      const { store, id } = o
      const alice = id('user', 'alice')
      const dm = id('room', 'alicebob')
      // What a client can put in a JSON or form body: each beside a key that names a row.
      for (const [key, what] of [[`${dm}\u0000`, 'a DM id and a NUL'], ['bob\u0000', 'a username and a NUL'], ['\u0000', 'a NUL alone'],
        ['\ud800', 'a lone high surrogate'], ['bob\udc00', 'a username and a lone low surrogate']]) {
        const asked = await Promise.allSettled([
          store.findUser(key),
          store.findRoomById(key),
          store.findDirectRoom([alice, key]),
          store.findSubscription(key, alice),
          store.findSubscription(dm, key),
          store.findNamed?.(key, alice).then((named) => named.user ?? named.room ?? named.subscription) ?? null,
          store.findUserByLoginToken?.(key, hashLoginToken(TOKENS.alice)) ?? null
        ])
        const found = asked.map((settled) => settled.status === 'fulfilled' ? settled.value : `rejected: ${String(settled.reason)}`)
        check.same(found, found.map(() => null), `${what} (${JSON.stringify(key)}): findUser, findRoomById, findDirectRoom, findSubscription (as room, as user), findNamed, findUserByLoginToken`)
      }
    }
  },
  eraseTree: {
    async run (check, open) {
      const o = await eraseAndCompare(check, open, 'alicebob', TREE, true, 'exactly the DM and its tree are gone')
      check.same(await o.store.findRoomById(o.id('room', 'disc-1-1')), null, 'the nested discussion is no longer found')
      check.same(await o.store.findDirectRoom([o.id('user', 'alice'), o.id('user', 'bob')]), null, 'the DM is no longer found by its members')
      check.same(await o.store.findSubscription(o.id('room', 'alicebob'), o.id('user', 'alice')), null, 'nor its subscriptions')
    }
  },
  eraseCounts: {
    async run (check, open) {
      await eraseAndCompare(check, open, 'alicebob', TREE, false, 'exactly the DM and its tree are gone')
    }
  },
  eraseSmall: {
    async run (check, open) {
      const o = await open()
      const before = await o.rows()
      const noMessages = empty(['adminbob'], ['s-adminbob-admin', 's-adminbob-bob'])
      checkResult(check, o, await o.store.eraseRoom(o.id('room', 'adminbob')), noMessages, true)
      const self = empty(['self-alice'], ['s-self-alice-alice'], ['m-self-1'])
      checkResult(check, o, await o.store.eraseRoom(o.id('room', 'self-alice')), self, true)
      sameRows(check, o, await o.rows(), minusTree(o, minusTree(o, before, noMessages), self), 'exactly those two DMs are gone')
    }
  },
  eraseDiscussion: {
    async run (check, open) {
      await eraseAndCompare(check, open, 'disc-1', DISC_TREE, true, 'the discussion and its own discussion are gone; the DM and its own content stay')
    }
  },
  eraseGone: {
    async run (check, open) {
      const o = await open()
      const before = await o.rows()
      check.same(await o.store.eraseRoom(o.id('room', 'nope')), null, 'a room that never existed')
      sameRows(check, o, await o.rows(), before, 'nothing changed')
      check.ok(await o.store.eraseRoom(o.id('room', 'self-alice')) !== null, 'a first erase of a self-DM')
      const after = await o.rows()
      check.same(await o.store.eraseRoom(o.id('room', 'self-alice')), null, 'erased already')
      sameRows(check, o, await o.rows(), after, 'nothing more changed')
    }
  },
  atomic: {
    async run (check, open) {
      const o = await open()
      const before = await o.rows()
      const alicebob = o.id('room', 'alicebob')
      let intact = true
      for (let writes = 1; intact; writes++) {
        if (!check.ok(writes <= MAX_WRITES, `faultFired() says false once the erase makes fewer writes than armed (still true after ${MAX_WRITES})`)) return
        o.target.failNextErase(writes)
        const [erased] = await Promise.allSettled([o.store.eraseRoom(alicebob)])
        if (!o.target.faultFired()) {
          check.ok(writes > 1, 'the erase makes at least one write the fault can follow')
          check.ok(erased.status === 'fulfilled' && erased.value !== null, `with fewer writes than ${writes}, the armed erase simply succeeds`)
          sameRows(check, o, await o.rows(), minusTree(o, before, TREE), `after the fault stopped firing (the erase makes ${writes - 1} writes), the erase removed the tree`)
          return
        }
        const ok = check.ok(erased.status === 'rejected', `a fault after write ${writes}: the erase rejects`) &&
          sameRows(check, o, await o.rows(), before, `a fault after write ${writes}: no row changed`) &&
          check.same(roomView(o, await o.store.findDirectRoom([o.id('user', 'alice'), o.id('user', 'bob')])), wantedRoom(o, 'alicebob'), `a fault after write ${writes}: the DM is still found by its members`) &&
          check.ok(await o.store.findSubscription(alicebob, o.id('user', 'alice')) !== null, `a fault after write ${writes}: its subscriptions too`)
        // One failure tells it; what follows a broken rollback tells nothing new.
        intact = ok
      }
    }
  },
  raceErases: {
    async run (check, open, { raceRounds }) {
      for (let round = 1; round <= raceRounds; round++) {
        const o = await open()
        const before = await o.rows()
        const settled = await Promise.allSettled(Array.from({ length: RACERS }, async () => await o.store.eraseRoom(o.id('room', 'alicebob'))))
        const rejected = settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))
        const done = settled.map((s) => (s as Partial<PromiseFulfilledResult<EraseResult | null>>).value).filter((value): value is EraseResult => value != null)
        // Every check is made, whichever fails: which one a broken store fails depends on the race.
        const checks = [
          check.same(rejected, [], `round ${round}: no erase rejects`),
          check.same(done.length, 1, `round ${round}: of ${RACERS} concurrent erases, exactly one resolves to a result, the others to null`),
          check.same(done[0]?.removed, counts(TREE), `round ${round}: the one erase removed the whole tree`),
          sameRows(check, o, await o.rows(), minusTree(o, before, TREE), `round ${round}: the tree is gone, nothing else`)
        ]
        if (!checks.every(Boolean)) return
      }
    }
  },
  raceWrite: {
    async run (check, open, { raceRounds }) {
      for (let round = 1; round <= raceRounds; round++) {
        const o = await open()
        const before = await o.rows()
        const race = { erasing: true }
        const stored: string[] = []
        const refused: string[] = []
        // As chat servers would: posts keep coming into the DM and into each of its discussions
        // until the erase is over, so one lands between any two of its statements.
        const writer = async (kitRoom: string): Promise<void> => {
          for (let n = 1; race.erasing && n <= MAX_LATE; n++) {
            const kitId = `m-late-${kitRoom}-${n}`
            const [written] = await Promise.allSettled([o.write(kitId, kitRoom)])
            ;(written.status === 'fulfilled' ? stored : refused).push(kitId)
          }
        }
        // Either side first, alternately: which one wins a race should not matter.
        const first = round % 2 === 1 ? TREE.rooms.map(writer) : []
        const erase = o.store.eraseRoom(o.id('room', 'alicebob')).finally(() => { race.erasing = false })
        const [erased] = await Promise.allSettled([erase, ...first, ...round % 2 === 1 ? [] : TREE.rooms.map(writer)])
        // Read without a branch on how the race fell (undefined when the erase rejected).
        const result = (erased as Partial<PromiseFulfilledResult<EraseResult | null>>).value
        const why = { fulfilled: '', rejected: `, but it rejected: ${String((erased as PromiseRejectedResult).reason)}` }[erased.status]
        // Every check is made, whichever fails: which one a broken store fails depends on the race.
        const checks = [
          check.ok(result != null, `round ${round}: the erase succeeds${why}`),
          sameRows(check, o, await o.rows(), minusTree(o, before, TREE), `round ${round}: the tree is gone, and the ${stored.length} messages written into it meanwhile with it (${refused.length} were refused)`),
          check.same(result?.removed.messages, TREE.messages.length + stored.length, `round ${round}: the messages counted are the tree's and those written meanwhile`)
        ]
        if (!checks.every(Boolean)) return
      }
    }
  },
  purge: {
    needs: 'purge',
    async run (check, open) {
      const o = await open()
      const steps = o.store.purge as PurgeSteps
      const before = await o.rows()
      const tree = TREE
      if (!await hide(check, o, 'alicebob', tree)) return
      sameRows(check, o, await o.rows(), minusTree(o, before, { ...empty([], tree.subscriptions) }), 'hidden: only its subscriptions are gone so far')
      const uploads: Upload[] = []
      let finished: RemovedCounts | null = null
      let late = false
      for (let step = 1; finished === null; step++) {
        if (!check.ok(step <= MAX_STEPS, `the purge finishes within ${MAX_STEPS} steps of batch size 1`)) return
        // A step failing after any of its writes (a crash, an outage) changes nothing.
        for (let writes = 1; writes <= MAX_STEPS; writes++) {
          const rows = await o.rows()
          o.target.failNextErase(writes)
          const [failed] = await Promise.allSettled([steps.step({ batchSize: 1 })])
          if (!o.target.faultFired()) {
            // Fewer writes than armed: the step simply went through.
            if (!check.ok(failed.status === 'fulfilled' && failed.value !== null, `step ${step}: resolves to a step, not null, while the purge is pending`)) return
            const done = (failed as PromiseFulfilledResult<PurgeStep>).value
            uploads.push(...done.uploads)
            finished = done.finished
            break
          }
          if (!(check.ok(failed.status === 'rejected', `step ${step}, a fault after write ${writes}: the step rejects`) &&
            sameRows(check, o, await o.rows(), rows, `step ${step}, a fault after write ${writes}: no row changed`))) return
        }
        await unseen(check, o, tree, `after step ${step}`)
        if (step === 1) {
          // As a chat server would, into the DM being purged: refused, or purged with it.
          const written = await Promise.allSettled([o.write('m-late', 'alicebob')])
          late = written[0].status === 'fulfilled'
        }
      }
      const done = finished as RemovedCounts
      check.same(done, { ...counts(tree), messages: tree.messages.length + Number(late) }, `the last step's finished: what the whole erase removed (the message written meanwhile ${late ? 'included' : 'refused'})`)
      check.same(uploads.map((upload) => upload._id).sort(), sorted(tree.uploads.map((k) => o.id('upload', k))), 'the steps handed out each upload of the tree once')
      sameRows(check, o, await o.rows(), minusTree(o, before, tree), 'every row of the tree is gone, the message written meanwhile too, nothing else')
      check.same(await steps.step({ batchSize: 1 }), null, 'then no purge is pending: step resolves to null')
    }
  },
  purgeRace: {
    needs: 'purge',
    async run (check, open, { raceRounds }) {
      for (let round = 1; round <= raceRounds; round++) {
        const o = await open()
        const steps = o.store.purge as PurgeSteps
        const before = await o.rows()
        const trees = ['alicebob', 'general'].map((kitRoom) => treeOf(o.world, kitRoom))
        const hidden = [await hide(check, o, 'alicebob', trees[0]), await hide(check, o, 'general', trees[1])]
        if (!hidden.every(Boolean)) return
        const taken: PurgeStep[] = []
        const errors: string[] = []
        const runner = async (): Promise<void> => {
          for (let step = 0; step < MAX_STEPS; step++) {
            const done = await steps.step({ batchSize: 1 }).catch((err: unknown) => { errors.push(String(err)); return null })
            if (done === null) return
            taken.push(done)
          }
        }
        await Promise.all([runner(), runner(), runner()])
        // A caller that found every pending purge busy stopped early: what is left, one caller finishes.
        await runner()
        const uploads = taken.flatMap((step) => step.uploads.map((upload) => upload._id)).sort()
        const ends = taken.filter((step) => step.finished !== null)
        const checks = [
          check.same(errors, [], `round ${round}: no step rejects`),
          check.same(uploads, sorted(trees.flatMap((tree) => tree.uploads.map((k) => o.id('upload', k)))), `round ${round}: each upload of both trees handed out exactly once`),
          check.same(sorted(ends.map((step) => step.roomId)), sorted(['alicebob', 'general'].map((k) => o.id('room', k))), `round ${round}: each purge finished exactly once`),
          check.same(ends.map((step) => step.finished as RemovedCounts).sort((a, b) => a.messages - b.messages), trees.map(counts).sort((a, b) => a.messages - b.messages), `round ${round}: with what each erase removed`),
          sameRows(check, o, await o.rows(), minusTree(o, minusTree(o, before, trees[0]), trees[1]), `round ${round}: both trees are gone, nothing else`)
        ]
        if (!checks.every(Boolean)) return
      }
    }
  },
  roundTrip: {
    needs: 'documents',
    async run (check, open) {
      const { whole: store, world } = await openDocuments(open)
      check.same(await store.dump(), Object.fromEntries(Object.entries(world).map(([name, docs]) => [name, [...docs].sort(byId)])), 'the world, each collection sorted by _id')
      const dated: Dataset = {
        users: [{ _id: 'dated', username: 'dated', services: { resume: { loginTokens: [{ hashedToken: 'h', when: new Date('2026-02-03T04:05:06.789Z') }] } } }],
        rooms: [{ _id: 'dated-room', t: 'c', ts: new Date('2026-01-02T03:04:05.678Z'), nested: { list: [1, 2.5, 'x', true, null, { deep: {} }] } }]
      }
      await store.import(dated)
      check.same(await store.findRoomById('dated-room'), dated.rooms?.[0], 'dates and nested values survive')
      check.same(await store.findUserByLoginToken?.('dated', 'h'), dated.users?.[0], 'a date in a login token too')
      const dump = await store.dump()
      const copy = (await open(false)).whole as DocumentStore
      check.same(await copy.dump(), { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] }, 'an empty store dumps empty collections')
      await copy.import(dump)
      check.same(await copy.dump(), dump, 'a dump imported elsewhere dumps the same')
    }
  },
  imports: {
    needs: 'documents',
    async run (check, open) {
      const { whole: store, world } = await openDocuments(open)
      const pick = <C extends keyof Dump>(name: C, kitId: string): Dump[C][number] => find<Dump[C][number]>(world[name], kitId)
      const byToken = async (userId: string, token: string): Promise<User | null> => await store.findUserByLoginToken?.(userId, hashLoginToken(token)) ?? null
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
      check.same(await byToken('alice', TOKENS.alice), null, 'the old tokens are gone')
      check.same(await byToken('alice', 'new'), renamed, 'the new token authenticates')
      check.same(await store.findDirectRoom(['alice', 'bob']), null, 'the DM is no longer found by its old members')
      check.same(await store.findDirectRoom(['carol', 'bob']), moved, 'but by its new ones')
      check.same(await store.findSubscription('alicebob', 'bob'), null, 'the subscription left its old user')
      check.ok(await store.findSubscription('alicebob', 'carol') !== null, 'for its new one')
      const dump = await store.dump()
      check.same(Object.values(dump).map((docs) => docs.length), Object.values(world).map((docs) => docs.length), 'nothing added')
      check.same(dump.messages.find((doc) => doc._id === 'm-gen-1')?.msg, 'last', 'within one import, the last document with an _id wins')
      check.same((await store.eraseRoom('alicebob'))?.removed, { messages: 3, subscriptions: 2, uploads: 2, readReceipts: 2, discussions: 0 }, 'an erase follows the replaced documents')
      check.same(await store.findRoomById('disc-1'), unlinked, 'a discussion unlinked from the room stays')
      const before = await store.dump()
      await store.import({
        rooms: [{ _id: 'new-disc', t: 'p', prid: 'new-dm' }, { _id: 'new-dm', t: 'd', uids: ['bob', 'carol'] }],
        messages: [{ _id: 'new-m', rid: 'new-dm', msg: 'x' }, { _id: 'new-dm-1', rid: 'new-disc', msg: 'y' }],
        subscriptions: [{ _id: 'new-s', rid: 'new-dm', u: { _id: 'bob' } }]
      })
      await store.import({ uploads: [{ _id: 'new-up', rid: 'new-disc' }], readReceipts: [{ _id: 'new-rr', rid: 'new-dm', messageId: 'new-m', userId: 'carol' }] })
      check.same((await store.eraseRoom('new-dm'))?.removed, { messages: 2, subscriptions: 1, uploads: 1, readReceipts: 1, discussions: 1 }, 'a discussion imported before its parent is erased with it, and what they hold')
      // Bad data, imported at once.
      await store.import({
        rooms: [{ _id: 'cycle-a', t: 'd', uids: ['x', 'y'], prid: 'cycle-b' }, { _id: 'cycle-b', t: 'p', prid: 'cycle-a' }],
        messages: [{ _id: 'cycle-m', rid: 'cycle-b', msg: 'x' }]
      })
      const cycle = await store.eraseRoom('cycle-a')
      check.same(cycle?.rooms.map((room) => room._id), ['cycle-a', 'cycle-b'], 'a discussion cycle: each room once, the DM first')
      check.same(cycle?.removed.messages, 1, 'with what they held')
      check.same(await store.dump(), before, 'nothing of those rooms is left')
    }
  },
  refused: {
    needs: 'documents',
    async run (check, open) {
      const { whole: store, world } = await openDocuments(open)
      const before = await store.dump()
      const rejects = async (dataset: Dataset, message: string): Promise<void> => {
        // Any rejection counts (pg's DatabaseError is no `Error` subclass by name).
        const [settled] = await Promise.allSettled([store.import(dataset)])
        check.ok(settled.status === 'rejected', message)
      }
      await rejects({ users: [{ username: 'no-id' } as unknown as User] }, 'a user without _id')
      await rejects({ users: [{ _id: 'valid', username: 'valid' }], messages: [{ _id: 'no-rid', msg: 'x' } as unknown as Dump['messages'][number]] }, 'a message without rid')
      const strays: Dataset[] = [
        { subscriptions: [{ _id: 'stray', rid: 'nowhere', u: { _id: 'alice' } }] },
        { messages: [{ _id: 'stray', rid: 'nowhere', msg: 'x' }] },
        { uploads: [{ _id: 'stray', rid: 'nowhere' }] },
        { readReceipts: [{ _id: 'stray', rid: 'nowhere', messageId: 'm-ab-1', userId: 'bob' }] },
        { rooms: [{ _id: 'stray', t: 'p', prid: 'nowhere' }] },
        // A document moved to a room that is not there is refused like a new one.
        { messages: [{ ...find(world.messages, 'm-ab-1'), rid: 'nowhere' }] }
      ]
      for (const stray of strays) await rejects({ ...stray, rooms: [{ _id: 'new-room', t: 'c' }, ...stray.rooms ?? []] }, `refused: ${JSON.stringify(stray)}`)
      check.same(await store.dump(), before, 'nothing of a refused import was added, not even a room it brought')
    }
  }
}

/** A fresh target of a document store (supports.documents), which must have import() and dump(). */
async function openDocuments (open: Open): Promise<Opened & { whole: DocumentStore }> {
  const o = await open()
  if (typeof o.whole?.import !== 'function' || typeof o.whole.dump !== 'function') throw new Error('supports.documents, but the store has no import() and dump()')
  return o as Opened & { whole: DocumentStore }
}

/** An erase made to purge (batch size 1: every DM of the world holding two rows of a kind is big): hidden, and checked so. */
async function hide (check: Check, o: Opened, kitRoom: string, tree: Tree): Promise<boolean> {
  const result = await o.store.eraseRoom(o.id('room', kitRoom), { batchSize: 1 })
  if (!check.ok(result?.purging === true, `eraseRoom('${kitRoom}', { batchSize: 1 }) with more than one row of a kind hides it and resolves with purging: true`)) return false
  const r = result as EraseResult
  return [
    check.same(r.rooms.map((room) => room._id), tree.rooms.map((kitId) => o.id('room', kitId)), 'rooms: the rooms hidden, the erased one first'),
    check.same(sorted(r.subscriptions.map((sub) => sub._id)), sorted(tree.subscriptions.map((k) => o.id('subscription', k))), 'subscriptions: the ones removed with the hiding'),
    check.same(r.removed, { messages: 0, uploads: 0, readReceipts: 0, subscriptions: tree.subscriptions.length, discussions: tree.rooms.length - 1 }, 'removed: the subscriptions and the discussions, nothing else yet'),
    check.same(r.uploads, [], 'uploads: none yet (the steps hand them out)'),
    await unseen(check, o, tree, 'hidden'),
    check.same(await o.store.eraseRoom(o.id('room', kitRoom), { batchSize: 1 }), null, 'a second erase of it resolves to null')
  ].every(Boolean)
}

function counts (tree: Tree): EraseResult['removed'] {
  return { messages: tree.messages.length, subscriptions: tree.subscriptions.length, uploads: tree.uploads.length, readReceipts: tree.readReceipts.length, discussions: tree.rooms.length - 1 }
}
