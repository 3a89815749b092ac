import Fastify, { type FastifyRequest } from 'fastify'
import { Redis } from 'ioredis'
import { describe, expect, test } from 'tstyche'
import imDeletePlugin, {
  MemoryStore,
  errors,
  type AfterEraseContext,
  type Authenticate,
  type BeforeEraseContext,
  type Caller,
  type EraseOptions,
  type EraseResult,
  type FileStore,
  type HasPermission,
  type ImDeleteOptions,
  type ImDeleteStore,
  type RateLimitHit,
  type RateLimitStore,
  type RemovedCounts,
  type Room,
  type Subscription,
  type Upload,
  type User
} from '../../index.js'

// Type tests: run by tstyche (`npm test`), never executed. Each `not` below is a mistake a
// user could make that must fail to compile.

const store = new MemoryStore()
const app = Fastify()

describe('options', () => {
  test('a store is all that is required', () => {
    expect(app.register).type.toBeCallableWith(imDeletePlugin, { store })
    expect(app.register).type.not.toBeCallableWith(imDeletePlugin, {})
    expect(app.register).type.not.toBeCallableWith(imDeletePlugin, { prefix: '/api/v1' })
  })

  test('every option is accepted with its documented type', () => {
    expect<ImDeleteOptions>().type.toBeAssignableFrom({
      store,
      authenticate: async (request: FastifyRequest) => ({ _id: String(request.headers['x-user-id']), username: 'ada', roles: ['admin'] }),
      hasPermission: (user: Caller, permission: string) => user.roles.includes('admin') || permission === 'view-d-room',
      permissions: { 'delete-d': ['admin', 'user'] },
      prefix: '/chat/api/v1',
      rateLimit: { max: 20, timeWindow: 30_000, redis: new Redis({ lazyConnect: true }), nameSpace: 'dm:', skipOnError: true },
      onBeforeErase: [() => true, async () => false, () => {}],
      onAfterErase: async () => {},
      onAfterPurge: [({ roomId, removed }: { roomId: string, removed: { messages: number } }) => { console.log(roomId, removed.messages) }],
      fileStore: { remove: async () => {}, removeAvatar: () => {} },
      purge: { batchSize: 2000, pause: 5, blobConcurrency: 8, poll: 30_000 },
      hookTimeout: 5_000,
      bodyLimit: 1024
    })
    expect<ImDeleteOptions>().type.toBeAssignableFrom({ store, rateLimit: false as const })
  })

  test('options of the wrong type do not compile', () => {
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, rateLimit: true as const })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, rateLimit: { max: '10' } })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, rateLimit: { redis: 'redis://127.0.0.1:6379' } })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, prefix: 1 })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, permissions: { 'delete-d': 'admin' } })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, hookTimeout: '10s' })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, purge: { batchSize: '5000' } })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, fileStore: { removeAvatar: () => {} } })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store: { findRoomById: async () => null } })
    expect(app.register).type.not.toBeCallableWith(imDeletePlugin, { store, onBeforeErase: 'veto' })
  })
})

describe('hooks', () => {
  test('hook arguments are typed', () => {
    const options: ImDeleteOptions = {
      store,
      authenticate (request) {
        expect(request).type.toBe<FastifyRequest>()
        return null
      },
      hasPermission (user, permission, room, subscription) {
        expect(user).type.toBe<Caller>()
        expect(permission).type.toBe<string>()
        expect(room).type.toBe<Room | undefined>()
        expect(subscription).type.toBe<Subscription | null | undefined>()
        return true
      },
      onBeforeErase (context) {
        expect(context).type.toBe<BeforeEraseContext>()
        expect(context.room).type.toBe<Room>()
        expect(context.user).type.toBe<Caller>()
      },
      onAfterErase: [(context) => {
        expect(context).type.toBe<AfterEraseContext>()
        expect(context.removed).type.toBe<RemovedCounts>()
        expect(context.rooms).type.toBe<Room[]>()
      }],
      fileStore: {
        remove (upload) { expect(upload).type.toBe<Upload>() },
        removeAvatar (room) { expect(room).type.toBe<Room>() }
      }
    }
    expect(options).type.toBeAssignableTo<ImDeleteOptions>()
  })

  test('a hook with a wrong argument or result type does not compile', () => {
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, onBeforeErase: (context: { room: string }) => context.room !== '' })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, onBeforeErase: () => 'no' })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, onAfterErase: [(context: { removed: number }) => context.removed] })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, authenticate: (request: string) => ({ _id: request, username: request, roles: [] }) })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, authenticate: async () => ({ _id: 'u1' }) })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, hasPermission: (user: Caller, permission: number) => permission > 0 })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, hasPermission: () => 'yes' })
    expect<ImDeleteOptions>().type.not.toBeAssignableFrom({ store, fileStore: { remove: (upload: Room) => upload.t } })
  })

  test('sync and async hooks are alike', () => {
    expect<Authenticate>().type.toBeAssignableFrom(() => undefined)
    expect<Authenticate>().type.toBeAssignableFrom(async () => ({ _id: 'u1', username: 'ada', roles: [] }))
    expect<HasPermission>().type.toBeAssignableFrom(async () => true)
    expect<FileStore['remove']>().type.toBeAssignableFrom(() => {})
  })
})

describe('stores', () => {
  test('the store interface is what a custom store implements', () => {
    class Custom implements ImDeleteStore {
      async findUserByLoginToken (): Promise<User | null> { return null }
      async findUser (): Promise<User | null> { return null }
      async findRoomById (): Promise<Room | null> { return null }
      async findDirectRoom (): Promise<Room | null> { return null }
      async findSubscription (): Promise<Subscription | null> { return null }
      async eraseRoom (): Promise<EraseResult | null> { return null }
    }
    expect(app.register).type.toBeCallableWith(imDeletePlugin, { store: new Custom() })
    expect<ImDeleteStore['eraseRoom']>().type.toBe<(roomId: string, options?: EraseOptions) => Promise<EraseResult | null>>()
  })

  test('a store whose methods are not async, or miss one, does not compile', () => {
    expect<ImDeleteStore>().type.not.toBeAssignableFrom({ ...store, findRoomById: (roomId: string) => ({ _id: roomId, t: 'd' }) })
    const { eraseRoom, ...incomplete } = store
    expect(eraseRoom).type.toBe<(roomId: string, options?: EraseOptions) => Promise<EraseResult | null>>()
    expect<ImDeleteStore>().type.not.toBeAssignableFrom(incomplete)
  })

  test('a rate-limit counter store follows @fastify/rate-limit\'s callback contract', () => {
    const counter: RateLimitStore = {
      incr (key, callback, timeWindow, max) {
        expect(key).type.toBe<string>()
        expect(timeWindow).type.toBe<number>()
        expect(max).type.toBe<number>()
        expect(callback).type.toBeCallableWith(null, { current: 1, ttl: timeWindow })
        expect(callback).type.not.toBeCallableWith(null, { current: 1 })
      }
    }
    expect<ImDeleteOptions>().type.toBeAssignableFrom({ store, rateLimit: { store: counter } })
    expect<RateLimitHit>().type.toBe<{ current: number, ttl: number }>()
  })
})

describe('errors', () => {
  test('each error class carries its code and status', () => {
    expect(new errors.NotAllowedError().code).type.toBe<'FST_IM_DELETE_NOT_ALLOWED'>()
    expect(new errors.UnauthorizedError().statusCode).type.toBe<401>()
    expect(new errors.TooManyRequestsError(30).statusCode).type.toBe<429>()
    expect(new errors.InvalidRoomError()).type.toBeAssignableTo<Error>()
  })
})
