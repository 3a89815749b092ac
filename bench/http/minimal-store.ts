/**
 * The least an in-memory store keeping the store contract's guarantees does per request: the
 * bench's lower bound for storage work (issue 14), beside MemoryStore on the same world.
 *
 * What it keeps: every lookup the contract has, each one map read; new objects handed out,
 * holding the fields the plugin and its hooks read (a caller cannot change what is stored); an erase of the room and its discussions, to any depth, with
 * everything they hold, that is all or nothing (undone if it fails part way) and happens once
 * (it is synchronous: JavaScript runs it to its end before anything else).
 * What it leaves out is what only MemoryStore's own API needs: imports that replace any document
 * by `_id` (an index of every document by `_id`), dumps sorted by `_id`, documents of messages
 * and read receipts (nothing reads them back: their ids are kept).
 * test/bench-minimal-store.test.ts runs the conformance kit on it.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Dataset, EraseOptions, EraseResult, ImDeleteStore, Named, Room, Subscription, User } from '../../index.js'
import { directRoomKey } from '../../lib/store.js'
import { copy } from '../../lib/stores/memory.js'

interface RoomEntry {
  room: Room
  /** Its key in the DM index. */
  key: string | null
  subscriptions: Subscription[]
  /** The ids only: nothing reads a message or a read receipt back. */
  messages: string[]
  uploads: NonNullable<Dataset['uploads']>
  readReceipts: string[]
  /** Its discussions' ids. */
  children: string[]
}

const keyOf = (uids: readonly string[]): string => directRoomKey(uids).join('\u0000')

// What a lookup hands out: new objects holding what the plugin and its hooks read
// (docs/store-contract.md), the least copying that still keeps the stored documents the store's.
const list = (values: string[] | undefined): string[] | undefined => values === undefined ? undefined : [...values]
const userOut = ({ _id, username, roles, active }: User): User => ({ _id, username, roles: list(roles), active })
const roomOut = ({ _id, t, uids, usernames, federated, prid }: Room): Room => ({ _id, t, uids: list(uids), usernames: list(usernames), federated, prid })
const subscriptionOut = ({ _id, rid, t, u, roles }: Subscription): Subscription => ({ _id, rid, t, u: { ...u }, roles: list(roles) })

export class MinimalStore implements ImDeleteStore {
  readonly #users = new Map<string, { user: User, tokens: Buffer[] }>()
  readonly #byUsername = new Map<string, User>()
  readonly #rooms = new Map<string, RoomEntry>()
  readonly #direct = new Map<string, string>()

  /** Adds a dataset (new documents only; rooms before what they hold, or in the same dataset). */
  load (dataset: Dataset): void {
    for (const user of dataset.users ?? []) {
      const tokens = (user.services?.resume?.loginTokens ?? []).map((token) => Buffer.from(token.hashedToken))
      this.#users.set(user._id, { user: copy(user), tokens })
      if (typeof user.username === 'string') this.#byUsername.set(user.username, this.#users.get(user._id)?.user as User)
    }
    for (const room of dataset.rooms ?? []) {
      const key = room.t === 'd' && Array.isArray(room.uids) ? keyOf(room.uids) : null
      this.#rooms.set(room._id, { room: copy(room), key, subscriptions: [], messages: [], uploads: [], readReceipts: [], children: [] })
      if (key !== null && !this.#direct.has(key)) this.#direct.set(key, room._id)
    }
    for (const room of dataset.rooms ?? []) {
      if (typeof room.prid === 'string') this.#entry(room.prid).children.push(room._id)
    }
    for (const sub of dataset.subscriptions ?? []) this.#entry(sub.rid).subscriptions.push(copy(sub))
    for (const message of dataset.messages ?? []) this.#entry(message.rid).messages.push(message._id)
    for (const upload of dataset.uploads ?? []) this.#entry(upload.rid).uploads.push(copy(upload))
    for (const receipt of dataset.readReceipts ?? []) this.#entry(receipt.rid).readReceipts.push(receipt._id)
  }

  /** The ids of every stored row of a kind. */
  ids (kind: 'room' | 'subscription' | 'message' | 'upload' | 'readReceipt'): string[] {
    const entries = [...this.#rooms.values()]
    if (kind === 'room') return entries.map((entry) => entry.room._id)
    if (kind === 'subscription') return entries.flatMap((entry) => entry.subscriptions.map((sub) => sub._id))
    if (kind === 'upload') return entries.flatMap((entry) => entry.uploads.map((upload) => upload._id))
    return entries.flatMap((entry) => kind === 'message' ? entry.messages : entry.readReceipts)
  }

  async findUserByLoginToken (userId: string, hashedToken: string): Promise<User | null> {
    const entry = this.#users.get(userId)
    if (entry === undefined) return null
    const wanted = Buffer.from(hashedToken)
    const held = entry.tokens.some((token) => token.length === wanted.length && timingSafeEqual(token, wanted))
    return held && entry.user.active !== false ? userOut(entry.user) : null
  }

  async findUser (idOrUsername: string): Promise<User | null> {
    return this.#user(idOrUsername)
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    return this.#room(roomId)
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const roomId = this.#direct.get(keyOf(uids))
    return roomId === undefined ? null : this.#room(roomId)
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    return this.#subscription(roomId, userId)
  }

  async findNamed (key: string, subscriberId?: string): Promise<Named> {
    return { user: this.#user(key), room: this.#room(key), subscription: subscriberId === undefined ? null : this.#subscription(key, subscriberId) }
  }

  async eraseRoom (roomId: string, { documents = true }: EraseOptions = {}): Promise<EraseResult | null> {
    const root = this.#rooms.get(roomId)
    if (root === undefined) return null
    // Everything is read before anything is removed; the removals are undone if one fails.
    const tree = [root]
    for (let i = 0; i < tree.length; i++) {
      for (const child of tree[i].children) {
        const entry = this.#rooms.get(child)
        if (entry !== undefined && !tree.includes(entry)) tree.push(entry)
      }
    }
    const parent = typeof root.room.prid === 'string' ? this.#rooms.get(root.room.prid) : undefined
    const removed = { messages: 0, subscriptions: 0, uploads: 0, readReceipts: 0, discussions: tree.length - 1 }
    for (const entry of tree) {
      removed.messages += entry.messages.length
      removed.subscriptions += entry.subscriptions.length
      removed.uploads += entry.uploads.length
      removed.readReceipts += entry.readReceipts.length
    }
    const done: RoomEntry[] = []
    try {
      for (const entry of tree) {
        this.#rooms.delete(entry.room._id)
        if (entry.key !== null && this.#direct.get(entry.key) === entry.room._id) this.#direct.delete(entry.key)
        done.push(entry)
        this.removed(entry.room._id)
      }
    } catch (err) {
      for (const entry of done) {
        this.#rooms.set(entry.room._id, entry)
        if (entry.key !== null && !this.#direct.has(entry.key)) this.#direct.set(entry.key, entry.room._id)
      }
      throw err
    }
    if (parent !== undefined) parent.children = parent.children.filter((id) => id !== roomId)
    // What was removed is nobody else's now: handed over as it is.
    return documents
      ? { rooms: tree.map((entry) => entry.room), uploads: tree.flatMap((entry) => entry.uploads), subscriptions: tree.flatMap((entry) => entry.subscriptions), removed }
      : { rooms: [], uploads: [], subscriptions: [], removed }
  }

  /** Called after each room's removal (a write); a throw there undoes the erase. For the kit's fault injection. */
  protected removed (_roomId: string): void {}

  #entry (roomId: string): RoomEntry {
    const entry = this.#rooms.get(roomId)
    if (entry === undefined) throw new Error(`MinimalStore: no room ${roomId}`)
    return entry
  }

  #user (idOrUsername: string): User | null {
    const user = this.#users.get(idOrUsername)?.user ?? this.#byUsername.get(idOrUsername)
    return user === undefined ? null : userOut(user)
  }

  #room (roomId: string): Room | null {
    const entry = this.#rooms.get(roomId)
    return entry === undefined ? null : roomOut(entry.room)
  }

  #subscription (roomId: string, userId: string): Subscription | null {
    const sub = this.#rooms.get(roomId)?.subscriptions.find((s) => s.u?._id === userId)
    return sub === undefined ? null : subscriptionOut(sub)
  }
}
