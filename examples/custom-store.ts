import Fastify, { type FastifyInstance } from 'fastify'
import imDeletePlugin, { type Authenticate, type EraseResult, type ImDeleteStore, type Message, type Room, type Subscription, type User } from '../index.js'

/**
 * A store over plain maps, standing in for your database. eraseRoom must be all or nothing:
 * here nothing is awaited between its first and last change, so no request sees half of it;
 * over a database, use one transaction.
 */
export class MapStore implements ImDeleteStore {
  readonly users = new Map<string, User>()
  readonly rooms = new Map<string, Room>()
  subscriptions: Subscription[] = []
  messages: Message[] = []

  // No findUserByLoginToken: this server authenticates with its own sessions (see below).

  async findUser (idOrUsername: string): Promise<User | null> {
    return this.users.get(idOrUsername) ?? [...this.users.values()].find((user) => user.username === idOrUsername) ?? null
  }

  async findRoomById (roomId: string): Promise<Room | null> {
    return this.rooms.get(roomId) ?? null
  }

  async findDirectRoom (uids: readonly string[]): Promise<Room | null> {
    const members = (ids?: readonly string[]): string => [...new Set(ids)].sort().join()
    return [...this.rooms.values()].find((room) => room.t === 'd' && members(room.uids) === members(uids)) ?? null
  }

  async findSubscription (roomId: string, userId: string): Promise<Subscription | null> {
    return this.subscriptions.find((sub) => sub.rid === roomId && sub.u._id === userId) ?? null
  }

  async eraseRoom (roomId: string): Promise<EraseResult | null> {
    const room = this.rooms.get(roomId)
    if (room === undefined) return null
    // The DM, then its discussions (rooms whose parent is an erased room), at any depth.
    const rooms = [room]
    for (const parent of rooms) {
      rooms.push(...[...this.rooms.values()].filter((r) => r.prid === parent._id && !rooms.includes(r)))
    }
    const erased = new Set(rooms.map((r) => r._id))
    const messages = this.messages.filter((m) => !erased.has(m.rid))
    const subscriptions = this.subscriptions.filter((s) => !erased.has(s.rid))
    const gone = this.subscriptions.filter((s) => erased.has(s.rid))
    const removed = {
      messages: this.messages.length - messages.length,
      subscriptions: gone.length,
      uploads: 0,
      readReceipts: 0,
      discussions: rooms.length - 1
    }
    this.messages = messages
    this.subscriptions = subscriptions
    for (const id of erased) this.rooms.delete(id)
    return { rooms, removed, uploads: [], subscriptions: gone }
  }
}

/** Your own sessions instead of Rocket.Chat's login tokens: `Authorization: Bearer <session>`. */
export function sessionAuthenticate (store: MapStore, sessions: Map<string, string>): Authenticate {
  return (request) => {
    const session = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''
    const user = store.users.get(sessions.get(session) ?? '')
    return user?.username === undefined ? null : { _id: user._id, username: user.username, roles: user.roles ?? [] }
  }
}

export async function build (store: MapStore, sessions: Map<string, string>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(imDeletePlugin, {
    store,
    authenticate: sessionAuthenticate(store, sessions),
    // Members may delete their own DMs (Rocket.Chat's default: admins only).
    permissions: { 'delete-d': ['admin', 'user'] },
    onAfterErase: ({ room, user, removed }) => { app.log.info({ room: room._id, by: user.username, removed }, 'DM erased') }
  })
  return app
}
