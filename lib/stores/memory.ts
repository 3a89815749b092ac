import { timingSafeEqual } from 'node:crypto'
import { InvalidDocumentError, RoomPurgingError, UnknownRoomError } from '../errors.js'
import { directRoomKey, type EraseOptions, type ImDeleteStore, type Named, type PurgeStep, type PurgeSteps } from '../store.js'
import type { Dataset, Dump, EraseResult, Message, ReadReceipt, RemovedCounts, Room, Subscription, Upload, User } from '../types.js'

/** The collections an erase removes from, in Rocket.Chat's order; rooms go last. */
const ERASE_ORDER = ['uploads', 'messages', 'subscriptions', 'readReceipts', 'rooms'] as const
type EraseCollection = typeof ERASE_ORDER[number]
type RoomOwned = Exclude<EraseCollection, 'rooms'>
const OWNED = ['subscriptions', 'messages', 'uploads', 'readReceipts'] as const satisfies readonly RoomOwned[]
type RoomOwnedDoc = Upload | Message | Subscription | ReadReceipt

/**
 * Undo actions of an erase in progress, each logged before the change it undoes; run newest first
 * when anything throws, even after some of a step's changes.
 */
type UndoLog = Array<() => void>

const UNCOPIABLE = Symbol('uncopiable')
/** Deeper than this, a document goes to structuredClone (which also copes with cycles). */
const MAX_DEPTH = 32

/**
 * A deep copy of a document, the one structuredClone makes. JSON-like documents (plain objects,
 * arrays, primitives, Dates: Rocket.Chat's) are copied here directly, several times faster, as
 * every lookup copies what it returns; anything else goes to structuredClone as it is.
 */
export function copy<T> (doc: T): T {
  const copied = plainCopy(doc, 0)
  return copied === UNCOPIABLE ? structuredClone(doc) : copied as T
}

function plainCopy (value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'function' || typeof value === 'symbol' ? UNCOPIABLE : value
  if (depth === MAX_DEPTH) return UNCOPIABLE
  const proto = Object.getPrototypeOf(value)
  if (proto === Array.prototype) {
    const array = value as unknown[]
    const out = new Array(array.length)
    for (let i = 0; i < array.length; i++) {
      const item = i in array ? plainCopy(array[i], depth + 1) : UNCOPIABLE
      if (item === UNCOPIABLE) return UNCOPIABLE
      out[i] = item
    }
    return out
  }
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      const item = plainCopy((value as Record<string, unknown>)[key], depth + 1)
      if (item === UNCOPIABLE) return UNCOPIABLE
      // An own "__proto__" key (JSON.parse makes them) stays an own key, never the prototype.
      if (key === '__proto__') Object.defineProperty(out, key, { value: item, writable: true, enumerable: true, configurable: true })
      else out[key] = item
    }
    return out
  }
  return proto === Date.prototype ? new Date((value as Date).getTime()) : UNCOPIABLE
}
const byId = (a: { _id: string }, b: { _id: string }): number => Number(a._id > b._id) - Number(a._id < b._id)

function requireId (collection: string, doc: unknown): void {
  if (doc === null || typeof doc !== 'object' || typeof (doc as { _id?: unknown })._id !== 'string') {
    throw new InvalidDocumentError('MemoryStore', collection, '_id')
  }
}

/** The kinds of rows a purge step removes, and the counts each adds to. */
const PURGED = [['uploads', 'uploads'], ['messages', 'messages'], ['readReceipts', 'readReceipts'], ['subscriptions', 'subscriptions']] as const

/** A hidden erase whose rows are still to go: its rooms (the erased one first) and what went so far. */
interface Purge {
  roomIds: string[]
  removed: RemovedCounts
}

/** A user with the hashes of its login tokens as bytes, ready for a constant-time comparison. */
interface UserEntry {
  user: User
  tokens: Buffer[]
}

/**
 * A room with everything that belongs to it: one lookup by id reaches all an erase removes.
 * The entry outlives an import that replaces the room document, so its documents and
 * discussions stay with it.
 */
interface RoomEntry {
  room: Room
  /** Its key in the DM index, when it is a DM with member ids. */
  directKey: string | null
  /** The room it is a discussion of, as linked in the discussion index. */
  parent: string | null
  owned: Record<RoomOwned, Map<string, RoomOwnedDoc> | undefined>
  /** Its discussions' ids. */
  children: Set<string> | undefined
}

function tokensOf (user: User): Buffer[] {
  const held = user.services?.resume?.loginTokens
  return Array.isArray(held) ? held.map((token) => Buffer.from(String(token?.hashedToken))) : []
}

/** A member set as one string: the DM index's key. */
function keyOf (uids: readonly string[]): string {
  return directRoomKey(uids).join('\u0000')
}

function directKeyOf (room: Room): string | null {
  return room.t === 'd' && Array.isArray(room.uids) ? keyOf(room.uids) : null
}

/**
 * A store that keeps everything in the process, indexed by room: good for tests, demos and
 * single-process deployments with their own persistence. Every erase is all or nothing.
 */
export class MemoryStore implements ImDeleteStore {
  #users = new Map<string, UserEntry>()
  #usersByUsername = new Map<string, UserEntry>()
  #rooms = new Map<string, RoomEntry>()
  /** DM ids by member set, in the order stored: imported data can hold two DMs with one member set. */
  #directRooms = new Map<string, Set<string>>()
  /** Rooms being purged: out of every index, found by no lookup; their rows go in steps. */
  #hidden = new Map<string, RoomEntry>()
  #purges = new Map<string, Purge>()
  /** Big erases are hidden at once and purged in steps, each a bounded piece of work. */
  readonly purge: PurgeSteps = { step: async ({ batchSize }) => this.#step(batchSize) }
  /** Where each room-owned document lives, so an import can replace it by `_id`. */
  #roomOf: Record<RoomOwned, Map<string, RoomEntry>> = {
    uploads: new Map(),
    messages: new Map(),
    subscriptions: new Map(),
    readReceipts: new Map()
  }

  constructor (dataset: Dataset = {}) {
    this.#load(dataset)
  }

  /** Adds (or replaces, by `_id`) the documents of a dataset. */
  async import (dataset: Dataset): Promise<void> {
    this.#load(dataset)
  }

  /** A copy of everything, each collection sorted by `_id`. */
  async dump (): Promise<Dump> {
    // Rooms being purged are still stored, until their purge's last step.
    const entries = [...this.#rooms.values(), ...this.#hidden.values()]
    const owned = (name: RoomOwned): any[] =>
      entries.flatMap((entry) => [...entry.owned[name]?.values() ?? []]).map(copy).sort(byId)
    return {
      users: [...this.#users.values()].map((entry) => copy(entry.user)).sort(byId),
      rooms: entries.map((entry) => copy(entry.room)).sort(byId),
      subscriptions: owned('subscriptions'),
      messages: owned('messages'),
      uploads: owned('uploads'),
      readReceipts: owned('readReceipts')
    }
  }

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    const entry = this.#users.get(userId)
    if (entry === undefined) return null
    const wanted = Buffer.from(hashedToken)
    let found = false
    for (const candidate of entry.tokens) {
      // Length is public (every hash has the same one); the content is compared in constant time.
      if (candidate.length === wanted.length && timingSafeEqual(candidate, wanted)) found = true
    }
    // A deactivated user holds no login that counts (Rocket.Chat wipes their tokens).
    return found && entry.user.active !== false ? copy(entry.user) : null
  }

  async findUser (idOrUsername: string): Promise<User | null> {
    return this.#user(idOrUsername)
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    return this.#room(roomId)
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const [roomId] = this.#directRooms.get(keyOf(uids)) ?? []
    return roomId === undefined ? null : this.#room(roomId)
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    return this.#subscription(roomId, userId)
  }

  async findNamed (key: string, subscriberId?: string): Promise<Named> {
    return { user: this.#user(key), room: this.#room(key), subscription: subscriberId === undefined ? null : this.#subscription(key, subscriberId) }
  }

  #user (idOrUsername: string): User | null {
    const entry = this.#users.get(idOrUsername) ?? this.#usersByUsername.get(idOrUsername)
    return entry === undefined ? null : copy(entry.user)
  }

  #room (roomId: string): Room | null {
    const entry = this.#rooms.get(roomId)
    return entry === undefined ? null : copy(entry.room)
  }

  #subscription (roomId: string, userId: string): Subscription | null {
    for (const sub of (this.#rooms.get(roomId)?.owned.subscriptions?.values() ?? []) as Iterable<Subscription>) {
      if (sub.u?._id === userId) return copy(sub)
    }
    return null
  }

  async eraseRoom (roomId: string, { batchSize }: EraseOptions = {}): Promise<EraseResult | null> {
    const entry = this.#rooms.get(roomId)
    if (entry === undefined) return null
    const roomIds = this.#withDiscussions(roomId, entry)
    if (batchSize !== undefined && this.#holdsMore(roomIds, batchSize)) return this.#hide(roomIds)
    const undo: UndoLog = []
    const removed = {} as Record<EraseCollection, Array<Room | RoomOwnedDoc>>
    try {
      for (const collection of ERASE_ORDER) removed[collection] = this.#removeDocuments(collection, roomIds, undo)
    } catch (err) {
      for (const action of undo.reverse()) action()
      throw err
    }
    // What was removed belongs to nobody else now: handed over as it is, not copied.
    return {
      rooms: removed.rooms as Room[],
      uploads: removed.uploads as Upload[],
      subscriptions: removed.subscriptions as Subscription[],
      removed: {
        messages: removed.messages.length,
        subscriptions: removed.subscriptions.length,
        uploads: removed.uploads.length,
        readReceipts: removed.readReceipts.length,
        discussions: removed.rooms.length - 1
      }
    }
  }

  /** Whether the rooms hold more than `limit` rows of one kind. */
  #holdsMore (roomIds: readonly string[], limit: number): boolean {
    const entries = roomIds.map((id) => this.#rooms.get(id) as RoomEntry)
    return (['messages', 'uploads', 'readReceipts'] as const).some((kind) =>
      entries.reduce((total, entry) => total + (entry.owned[kind]?.size ?? 0), 0) > limit)
  }

  /** Takes the rooms out of every index and removes their subscriptions: from now on, a purge. */
  #hide (roomIds: string[]): EraseResult {
    const entries = roomIds.map((id) => this.#rooms.get(id) as RoomEntry)
    const subscriptions = this.#removeDocuments('subscriptions', roomIds, []) as Subscription[]
    for (const entry of [...entries].reverse()) {
      this.#unlink(entry)
      this.#hidden.set(entry.room._id, entry)
    }
    const removed = { messages: 0, subscriptions: subscriptions.length, uploads: 0, readReceipts: 0, discussions: roomIds.length - 1 }
    this.#purges.set(roomIds[0], { roomIds, removed: { ...removed } })
    return { rooms: entries.map((entry) => entry.room), uploads: [], subscriptions, removed, purging: true }
  }

  /**
   * Up to `batchSize` rows of the oldest purge, one kind after the other; its end once none is
   * left. All or nothing. One kind at a time: V8 rehashes a Map when a quarter of it is left in
   * use, and a step emptying several big maps at once made them all rehash in the same step.
   */
  #step (batchSize: number): PurgeStep | null {
    const [first] = this.#purges
    if (first === undefined) return null
    const [roomId, purge] = first
    const undo: UndoLog = []
    const step: PurgeStep = { roomId, uploads: [], finished: null }
    let left = batchSize
    try {
      for (const [collection, count] of PURGED) {
        if (left === 0) break
        const removed = this.#removeDocuments(collection, purge.roomIds, undo, left)
        if (collection === 'uploads') step.uploads = removed as Upload[]
        purge.removed[count] += removed.length
        undo.push(() => { purge.removed[count] -= removed.length })
        left -= removed.length
      }
      if (left > 0) {
        // Back as it was: its rooms stored, and the purge the oldest still.
        const entries = purge.roomIds.map((id) => this.#hidden.get(id) as RoomEntry)
        undo.push(() => {
          for (const entry of entries) this.#hidden.set(entry.room._id, entry)
          this.#purges = new Map([[roomId, purge], ...this.#purges])
        })
        for (const id of purge.roomIds) this.#hidden.delete(id)
        this.#purges.delete(roomId)
        step.finished = purge.removed
      }
    } catch (err) {
      for (const action of undo.reverse()) action()
      throw err
    }
    return step
  }

  /**
   * One step of an erase: removes a collection's documents that belong to the given rooms,
   * logging how to put each change back in `undo` before it makes it; a throw, even after some
   * changes, rolls the whole erase back.
   */
  #removeDocuments (collection: EraseCollection, roomIds: readonly string[], undo: UndoLog, limit = Infinity): Array<Room | RoomOwnedDoc> {
    // Every room of an erase is there until this step: rooms go last; a purge's rooms are hidden.
    const entries = roomIds.map((id) => this.#rooms.get(id) ?? this.#hidden.get(id) as RoomEntry)
    if (collection === 'rooms') {
      // Discussions before the rooms they belong to: each leaves its parent's index while that is
      // still there, and the undo, newest first, puts every parent back before its discussions.
      for (const entry of [...entries].reverse()) {
        undo.push(() => this.#link(entry))
        this.#unlink(entry)
      }
      return entries.map((entry) => entry.room)
    }
    const removed: RoomOwnedDoc[] = []
    const roomOf = this.#roomOf[collection]
    for (const entry of entries) {
      const docs = entry.owned[collection]
      if (docs === undefined) continue
      if (docs.size <= limit - removed.length) {
        // All of the room's: the map goes as a whole.
        undo.push(() => {
          entry.owned[collection] = docs
          for (const docId of docs.keys()) roomOf.set(docId, entry)
        })
        entry.owned[collection] = undefined
        for (const [docId, doc] of docs) {
          roomOf.delete(docId)
          removed.push(doc)
        }
        continue
      }
      const taken: RoomOwnedDoc[] = []
      undo.push(() => {
        for (const doc of taken) {
          docs.set(doc._id, doc)
          roomOf.set(doc._id, entry)
        }
      })
      for (const [docId, doc] of docs) {
        if (removed.length === limit) break
        taken.push(doc)
        docs.delete(docId)
        roomOf.delete(docId)
        removed.push(doc)
      }
      break
    }
    return removed
  }

  /** The room and, breadth first, every discussion below it. */
  #withDiscussions (roomId: string, entry: RoomEntry): string[] {
    if (entry.children === undefined) return [roomId]
    const ids = [roomId]
    for (let i = 0; i < ids.length; i++) {
      for (const child of this.#rooms.get(ids[i])?.children ?? []) {
        if (!ids.includes(child)) ids.push(child)
      }
    }
    return ids
  }

  /**
   * Refuses a dataset before any of it is loaded, so an import is all or nothing: documents
   * need string ids, and a room-owned document or a discussion must name a room that is in
   * the store or in the same dataset (as PostgresStore's foreign keys demand).
   */
  #check (dataset: Dataset): void {
    for (const user of dataset.users ?? []) requireId('users', user)
    for (const room of dataset.rooms ?? []) requireId('rooms', room)
    for (const name of OWNED) {
      for (const doc of dataset[name] ?? []) {
        requireId(name, doc)
        if (typeof doc.rid !== 'string') throw new InvalidDocumentError('MemoryStore', name, 'rid')
      }
    }
    // A room being purged keeps its id until the purge ends: neither it nor anything in it is written.
    const reused = (dataset.rooms ?? []).find((room) => this.#hidden.has(room._id))
    if (reused !== undefined) throw new RoomPurgingError('MemoryStore', reused._id)
    const rooms = new Set([...this.#rooms.keys(), ...(dataset.rooms ?? []).map((room) => room._id)])
    const references = [
      ...(dataset.rooms ?? []).filter((room) => typeof room.prid === 'string').map((room) => ['rooms', room._id, 'prid', room.prid as string]),
      ...OWNED.flatMap((name) => (dataset[name] ?? []).map((doc) => [name, doc._id, 'rid', doc.rid]))
    ]
    for (const [name, id, field, roomId] of references) {
      if (this.#hidden.has(roomId)) throw new RoomPurgingError('MemoryStore', roomId)
      if (!rooms.has(roomId)) throw new UnknownRoomError('MemoryStore', `'${id}' in '${name}'`, `${field} '${roomId}'`, '')
    }
  }

  #load (dataset: Dataset): void {
    this.#check(dataset)
    for (const user of dataset.users ?? []) {
      const previous = this.#users.get(user._id)
      if (previous?.user.username !== undefined) this.#usersByUsername.delete(previous.user.username)
      const stored = copy(user)
      const entry: UserEntry = { user: stored, tokens: tokensOf(stored) }
      this.#users.set(stored._id, entry)
      if (typeof stored.username === 'string') this.#usersByUsername.set(stored.username, entry)
    }
    // All rooms first, then their links: a discussion may come before the room it belongs to.
    const loaded: RoomEntry[] = []
    for (const room of dataset.rooms ?? []) {
      const stored = copy(room)
      const previous = this.#rooms.get(stored._id)
      if (previous !== undefined) this.#unlink(previous)
      const entry = previous ?? { room: stored, directKey: null, parent: null, owned: { uploads: undefined, messages: undefined, subscriptions: undefined, readReceipts: undefined }, children: undefined }
      entry.room = stored
      this.#rooms.set(stored._id, entry)
      loaded.push(entry)
    }
    for (const entry of loaded) this.#link(entry)
    for (const name of OWNED) {
      const roomOf = this.#roomOf[name]
      for (const doc of dataset[name] ?? []) {
        roomOf.get(doc._id)?.owned[name]?.delete(doc._id)
        const entry = this.#rooms.get(doc.rid) as RoomEntry
        roomOf.set(doc._id, entry)
        let docs = entry.owned[name]
        if (docs === undefined) entry.owned[name] = docs = new Map()
        docs.set(doc._id, copy(doc))
      }
    }
  }

  /** Puts a room in the indexes: by id, as a DM by its member set, as a discussion of its parent. */
  #link (entry: RoomEntry): void {
    const { room } = entry
    this.#rooms.set(room._id, entry)
    entry.directKey = directKeyOf(room)
    if (entry.directKey !== null) {
      let ids = this.#directRooms.get(entry.directKey)
      if (ids === undefined) this.#directRooms.set(entry.directKey, ids = new Set())
      ids.add(room._id)
    }
    entry.parent = typeof room.prid === 'string' ? room.prid : null
    // The parent is in the store (an import checks it), but for one case: undoing the erase of a
    // discussion cycle (bad data), where a parent unlinked before this room still lists it.
    const parent = entry.parent === null ? undefined : this.#rooms.get(entry.parent)
    if (parent !== undefined) (parent.children ??= new Set()).add(room._id)
  }

  /** Takes a room out of every index #link put it in. */
  #unlink (entry: RoomEntry): void {
    const { room, directKey, parent } = entry
    this.#rooms.delete(room._id)
    if (directKey !== null) {
      const ids = this.#directRooms.get(directKey) as Set<string>
      ids.delete(room._id)
      if (ids.size === 0) this.#directRooms.delete(directKey)
    }
    entry.directKey = null
    entry.parent = null
    // An erase unlinks discussions before their parent, so the parent is gone first only in a cycle.
    const parentEntry = parent === null ? undefined : this.#rooms.get(parent)
    if (parentEntry?.children === undefined) return
    parentEntry.children.delete(room._id)
    if (parentEntry.children.size === 0) parentEntry.children = undefined
  }
}
