import type { Dataset, Message, ReadReceipt, RemovedCounts, Room, Subscription, Upload, User } from '../../index.js'
import { IMPORT_SLICE } from './contract.js'

const TS = '2026-01-01T00:00:00.000Z'

/** Collects documents and hands them out in slices of at most IMPORT_SLICE per collection. */
class Slicer {
  #current: Required<Dataset> = Slicer.#empty()
  readonly slices: Array<Required<Dataset>> = []

  static #empty (): Required<Dataset> {
    return { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] }
  }

  add<K extends keyof Dataset> (collection: K, doc: Required<Dataset>[K][number]): void {
    if (this.#current[collection].length >= IMPORT_SLICE) this.flush()
    ;(this.#current[collection] as Array<typeof doc>).push(doc)
  }

  flush (): void {
    if (Object.values(this.#current).some((docs) => docs.length > 0)) this.slices.push(this.#current)
    this.#current = Slicer.#empty()
  }
}

const user = (_id: string, username: string): User => ({ _id, username, name: username, roles: ['user'], active: true })
const member = (u: User): { _id: string, username: string } => ({ _id: u._id, username: u.username as string })

/** One DM's content: `messages` messages, one upload per 10 messages, one read receipt per message, in `rooms` round-robin. */
function content (slicer: Slicer, prefix: string, rooms: readonly string[], messages: number, a: User, b: User): void {
  for (let j = 0; j < messages; j++) {
    // Nine messages in ten in the DM itself, the tenth in one of its discussions.
    const rid = rooms.length > 1 && j % 10 === 9 ? rooms[1 + (Math.floor(j / 10) % (rooms.length - 1))] : rooms[0]
    const _id = `${prefix}-m${j}`
    const from = j % 2 === 0 ? a : b
    const message: Message = { _id, rid, msg: `message ${j} of ${prefix}`, ts: TS, u: member(from), _updatedAt: TS }
    if (j % 10 === 0) {
      const upload: Upload = { _id: `${prefix}-f${j}`, rid, userId: from._id, name: `file-${j}.png`, size: 20_480, type: 'image/png', store: 'FileSystem:Uploads', path: `/ufs/${prefix}-f${j}` }
      message.files = [{ _id: upload._id }]
      slicer.add('uploads', upload)
    }
    slicer.add('messages', message)
    const receipt: ReadReceipt = { _id: `${prefix}-r${j}`, rid, messageId: _id, userId: (from === a ? b : a)._id, ts: TS }
    slicer.add('readReceipts', receipt)
  }
}

function dm (slicer: Slicer, _id: string, a: User, b: User, discussions: number): string[] {
  const rooms: Room[] = [{ _id, t: 'd', uids: [a._id, b._id], usernames: [a.username as string, b.username as string], msgs: 0, ts: TS }]
  for (let k = 0; k < discussions; k++) rooms.push({ _id: `${_id}-d${k}`, t: 'p', prid: _id, fname: `discussion ${k}`, ts: TS })
  for (const room of rooms) {
    slicer.add('rooms', room)
    for (const u of [a, b]) {
      const sub: Subscription = { _id: `${room._id}-s-${u._id}`, rid: room._id, t: room.t, u: member(u), open: true }
      slicer.add('subscriptions', sub)
    }
  }
  return rooms.map((room) => room._id)
}

export interface EraseWorld {
  key: string
  /** The DM every repetition erases. */
  roomId: string
  /** A background DM each side erases first, untimed. */
  warmupRoomId: string
  expected: RemovedCounts
  slices: Array<Required<Dataset>>
}

/** Background DMs that must survive every erase: the tables are never just the erased DM. */
const BACKGROUND = { dms: 100, messages: 200 }

/**
 * A DM of `messages` messages between two users, with a discussion per 500 messages (at least
 * one; a tenth of the messages are in them), both members subscribed to every room, one upload
 * per 10 messages and one read receipt per message; beside it, 100 DMs of 200 messages each.
 */
export function eraseWorld (messages: number): EraseWorld {
  const slicer = new Slicer()
  const a = user('erase-a', 'erase-a')
  const b = user('erase-b', 'erase-b')
  slicer.add('users', a)
  slicer.add('users', b)
  const discussions = Math.max(1, Math.floor(messages / 500))
  const roomId = 'erase-aerase-b'
  content(slicer, 'target', dm(slicer, roomId, a, b, discussions), messages, a, b)
  for (let i = 0; i < BACKGROUND.dms; i++) {
    const x = user(`bg-${i}-x`, `bg-${i}-x`)
    const y = user(`bg-${i}-y`, `bg-${i}-y`)
    slicer.add('users', x)
    slicer.add('users', y)
    content(slicer, `bg-${i}`, dm(slicer, `bg-${i}-xbg-${i}-y`, x, y, 1), BACKGROUND.messages, x, y)
  }
  slicer.flush()
  return {
    key: `erase-v1-${messages}`,
    roomId,
    warmupRoomId: 'bg-0-xbg-0-y',
    expected: {
      messages,
      uploads: Math.ceil(messages / 10),
      readReceipts: messages,
      subscriptions: 2 * (1 + discussions),
      discussions
    },
    slices: slicer.slices
  }
}

export interface LookupWorld {
  key: string
  rooms: number
  users: number
  /** The i-th user's `_id` and username. */
  userId: (i: number) => string
  username: (i: number) => string
  slices: () => Generator<Required<Dataset>>
}

/** Each user has a 1:1 DM with the next five (modulo the user count): `rooms` DMs among `rooms / 5` users, two subscriptions each. */
export const DMS_PER_USER = 5

export function lookupWorld (rooms: number): LookupWorld {
  const users = Math.max(DMS_PER_USER * 2 + 1, Math.floor(rooms / DMS_PER_USER))
  const userId = (i: number): string => `lu${i}`
  const username = (i: number): string => `luser${i}`
  // Slices of 2000 users: 2000 users, 10 000 rooms, 20 000 subscriptions.
  const PER_SLICE = Math.floor(IMPORT_SLICE / (2 * DMS_PER_USER))
  return {
    key: `lookup-v1-${rooms}`,
    rooms: users * DMS_PER_USER,
    users,
    userId,
    username,
    slices: function * () {
      for (let start = 0; start < users; start += PER_SLICE) {
        const slice: Required<Dataset> = { users: [], rooms: [], subscriptions: [], messages: [], uploads: [], readReceipts: [] }
        for (let i = start; i < Math.min(users, start + PER_SLICE); i++) {
          const me = user(userId(i), username(i))
          slice.users.push(me)
          for (let k = 1; k <= DMS_PER_USER; k++) {
            const j = (i + k) % users
            const uids = [userId(i), userId(j)].sort()
            const _id = uids.join('')
            slice.rooms.push({ _id, t: 'd', uids, usernames: uids.map((id) => id.replace('lu', 'luser')), msgs: 0, ts: TS })
            for (const id of uids) {
              slice.subscriptions.push({ _id: `${_id}-s-${id}`, rid: _id, t: 'd', u: { _id: id, username: id.replace('lu', 'luser') }, open: true })
            }
          }
        }
        yield slice
      }
    }
  }
}
