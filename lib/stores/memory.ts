import { timingSafeEqual } from 'node:crypto'
import { directRoomKey, type ImDeleteStore } from '../store.js'
import type { Dataset, Dump, EraseResult, Message, ReadReceipt, Room, Subscription, Upload, User } from '../types.js'

/** The collections an erase removes from, in Rocket.Chat's order; rooms go last. */
export const ERASE_ORDER = ['uploads', 'messages', 'subscriptions', 'readReceipts', 'rooms'] as const
export type EraseCollection = typeof ERASE_ORDER[number]
type RoomOwned = Exclude<EraseCollection, 'rooms'>
const OWNED = ['subscriptions', 'messages', 'uploads', 'readReceipts'] as const satisfies readonly RoomOwned[]
type RoomOwnedDoc = Upload | Message | Subscription | ReadReceipt

/** Undo actions of an erase in progress; run newest first when a step throws. */
export type UndoLog = Array<() => void>

const UNCOPIABLE = Symbol('uncopiable')
/** Deeper than this, a document goes to structuredClone (which also copes with cycles). */
const MAX_DEPTH = 32

/**
 * A deep copy of a document, the one structuredClone makes. JSON-like documents (plain objects,
 * arrays, primitives, Dates: Rocket.Chat's) are copied here directly, several times faster, as
 * every lookup copies what it returns; anything else goes to structuredClone as it is.
 */
function copy<T> (doc: T): T {
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

function keyOf (uids: readonly string[]): string {
  return directRoomKey(uids).join('\u0000')
}

function requireId (collection: string, doc: unknown): void {
  if (doc === null || typeof doc !== 'object' || typeof (doc as { _id?: unknown })._id !== 'string') {
    throw new TypeError(`MemoryStore: every document in '${collection}' needs a string _id`)
  }
}

/**
 * A store that keeps everything in the process, indexed by room: good for tests, demos and
 * single-process deployments with their own persistence. Every erase is all or nothing.
 */
export class MemoryStore implements ImDeleteStore {
  #users = new Map<string, User>()
  #usersByUsername = new Map<string, User>()
  #rooms = new Map<string, Room>()
  /** DM ids by member set, in the order stored: imported data can hold two DMs with one member set. */
  #directRooms = new Map<string, Set<string>>()
  #discussions = new Map<string, Set<string>>()
  #owned: Record<RoomOwned, Map<string, Map<string, RoomOwnedDoc>>> = {
    uploads: new Map(),
    messages: new Map(),
    subscriptions: new Map(),
    readReceipts: new Map()
  }

  /** Where each room-owned document lives, so an import can replace it by `_id`. */
  #roomOf: Record<RoomOwned, Map<string, string>> = {
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
    const owned = (name: RoomOwned): any[] =>
      [...this.#owned[name].values()].flatMap((docs) => [...docs.values()]).map(copy).sort(byId)
    return {
      users: [...this.#users.values()].map(copy).sort(byId),
      rooms: [...this.#rooms.values()].map(copy).sort(byId),
      subscriptions: owned('subscriptions'),
      messages: owned('messages'),
      uploads: owned('uploads'),
      readReceipts: owned('readReceipts')
    }
  }

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    const user = this.#users.get(userId)
    const wanted = Buffer.from(hashedToken)
    const held = user?.services?.resume?.loginTokens ?? []
    let found = false
    for (const token of held) {
      const candidate = Buffer.from(String(token.hashedToken))
      // Length is public (every hash has the same one); the content is compared in constant time.
      if (candidate.length === wanted.length && timingSafeEqual(candidate, wanted)) found = true
    }
    return found ? copy(user as User) : null
  }

  async findUserByUsername (username: string): Promise<User | null> {
    const user = this.#usersByUsername.get(username)
    return user === undefined ? null : copy(user)
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    const room = this.#rooms.get(roomId)
    return room === undefined ? null : copy(room)
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const [roomId] = this.#directRooms.get(keyOf(uids)) ?? []
    return roomId === undefined ? null : this.findRoomById(roomId)
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    for (const sub of (this.#owned.subscriptions.get(roomId)?.values() ?? []) as Iterable<Subscription>) {
      if (sub.u?._id === userId) return copy(sub)
    }
    return null
  }

  async eraseRoom (roomId: string): Promise<EraseResult | null> {
    if (!this.#rooms.has(roomId)) return null
    const roomIds = this.#withDiscussions(roomId)
    const undo: UndoLog = []
    const removed = {} as Record<EraseCollection, Array<Room | RoomOwnedDoc>>
    try {
      for (const collection of ERASE_ORDER) removed[collection] = this.removeDocuments(collection, roomIds, undo)
    } catch (err) {
      for (const action of undo.reverse()) action()
      throw err
    }
    // What was removed belongs to nobody else now: handed over as it is, not copied.
    return {
      rooms: removed.rooms as Room[],
      uploads: removed.uploads as Upload[],
      removed: {
        messages: removed.messages.length,
        subscriptions: removed.subscriptions.length,
        uploads: removed.uploads.length,
        readReceipts: removed.readReceipts.length,
        discussions: removed.rooms.length - 1
      }
    }
  }

  /**
   * One step of an erase: removes a collection's documents that belong to the given rooms,
   * logging how to put each change back in `undo` as it makes it. Subclasses may wrap it (to
   * inject faults in tests); a throw, even after some changes, rolls the whole erase back.
   */
  protected removeDocuments (collection: EraseCollection, roomIds: readonly string[], undo: UndoLog): Array<Room | RoomOwnedDoc> {
    if (collection === 'rooms') {
      return roomIds.map((id) => {
        const room = this.#rooms.get(id) as Room
        this.#removeRoom(room)
        undo.push(() => this.#addRoom(room))
        return room
      })
    }
    const byRoom = this.#owned[collection]
    const roomOf = this.#roomOf[collection]
    return roomIds.flatMap((id) => {
      const docs = byRoom.get(id)
      if (docs === undefined) return []
      byRoom.delete(id)
      for (const docId of docs.keys()) roomOf.delete(docId)
      undo.push(() => {
        byRoom.set(id, docs)
        for (const docId of docs.keys()) roomOf.set(docId, id)
      })
      return [...docs.values()]
    })
  }

  /** The room and, breadth first, every discussion below it. */
  #withDiscussions (roomId: string): string[] {
    const ids = [roomId]
    for (let i = 0; i < ids.length; i++) {
      for (const child of this.#discussions.get(ids[i]) ?? []) {
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
        if (typeof doc.rid !== 'string') throw new TypeError(`MemoryStore: every document in '${name}' needs a string rid`)
      }
    }
    const rooms = new Set([...this.#rooms.keys(), ...(dataset.rooms ?? []).map((room) => room._id)])
    const references = [
      ...(dataset.rooms ?? []).filter((room) => typeof room.prid === 'string').map((room) => ['rooms', room._id, 'prid', room.prid as string]),
      ...OWNED.flatMap((name) => (dataset[name] ?? []).map((doc) => [name, doc._id, 'rid', doc.rid]))
    ]
    for (const [name, id, field, roomId] of references) {
      if (!rooms.has(roomId)) {
        throw new Error(`MemoryStore: '${id}' in '${name}' names a room (${field} '${roomId}') that is neither in the store nor in this import; nothing was imported`)
      }
    }
  }

  #load (dataset: Dataset): void {
    this.#check(dataset)
    for (const user of dataset.users ?? []) {
      const previous = this.#users.get(user._id)
      if (previous?.username !== undefined) this.#usersByUsername.delete(previous.username)
      const stored = copy(user)
      this.#users.set(stored._id, stored)
      if (typeof stored.username === 'string') this.#usersByUsername.set(stored.username, stored)
    }
    for (const room of dataset.rooms ?? []) {
      const previous = this.#rooms.get(room._id)
      if (previous !== undefined) this.#removeRoom(previous)
      this.#addRoom(copy(room))
    }
    for (const name of OWNED) {
      for (const doc of dataset[name] ?? []) {
        const previousRoom = this.#roomOf[name].get(doc._id)
        if (previousRoom !== undefined) this.#owned[name].get(previousRoom)?.delete(doc._id)
        this.#roomOf[name].set(doc._id, doc.rid)
        let docs = this.#owned[name].get(doc.rid)
        if (docs === undefined) this.#owned[name].set(doc.rid, docs = new Map())
        docs.set(doc._id, copy(doc))
      }
    }
  }

  #addRoom (room: Room): void {
    this.#rooms.set(room._id, room)
    if (room.t === 'd' && Array.isArray(room.uids)) {
      const key = keyOf(room.uids)
      let ids = this.#directRooms.get(key)
      if (ids === undefined) this.#directRooms.set(key, ids = new Set())
      ids.add(room._id)
    }
    if (typeof room.prid === 'string') {
      let children = this.#discussions.get(room.prid)
      if (children === undefined) this.#discussions.set(room.prid, children = new Set())
      children.add(room._id)
    }
  }

  #removeRoom (room: Room): void {
    this.#rooms.delete(room._id)
    if (room.t === 'd' && Array.isArray(room.uids)) {
      const key = keyOf(room.uids)
      const ids = this.#directRooms.get(key)
      ids?.delete(room._id)
      if (ids?.size === 0) this.#directRooms.delete(key)
    }
    const siblings = typeof room.prid === 'string' ? this.#discussions.get(room.prid) : undefined
    siblings?.delete(room._id)
    if (siblings?.size === 0) this.#discussions.delete(room.prid as string)
  }
}
