import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import imDeletePlugin, { MemoryStore, type Dataset, type Dump, type EraseOptions, type EraseResult, type ImDeleteOptions, type ImDeleteStore } from '../../index.js'
import { KitFault } from '../../lib/test-kit/fault.js'
import { fixture } from './fixture.js'

/** A store the tests can load and read back whole. */
export type TestStore = ImDeleteStore & { dump: () => Promise<Dump> }

export interface Built {
  app: FastifyInstance
  store: TestStore
}

let makeStore = async (dataset: Dataset): Promise<TestStore> => new MemoryStore(dataset)

/** Runs the suites that build apps through `build()` on another store (see test/on-postgres). */
export function useStore (factory: (dataset: Dataset) => Promise<TestStore>): void {
  makeStore = factory
}

/**
 * A Fastify app with the plugin on a store holding the fixture (a memory store unless
 * `useStore` chose another, or `store` is given); rate limit off unless given.
 */
export async function build (options: Partial<Omit<ImDeleteOptions, 'store'>> & { store?: TestStore, dataset?: Dataset, fastify?: FastifyServerOptions } = {}): Promise<Built> {
  const { dataset = fixture(), fastify, store = await makeStore(dataset), ...rest } = options
  const app = Fastify(fastify)
  await app.register(imDeletePlugin, { store, rateLimit: false, ...rest })
  await app.ready()
  return { app, store }
}

// The lookups a store's findNamed stands for: a test that breaks one of them must make the plugin call it.
const NAMED_APART = new Set<PropertyKey>(['findUser', 'findRoomById', 'findSubscription'])

/** Wraps a store so that chosen methods misbehave (without findNamed when one of the lookups it stands for does). */
export function faulty<S extends ImDeleteStore> (store: S, faults: Partial<Record<keyof ImDeleteStore, () => unknown>>): S {
  const apart = Object.keys(faults).some((key) => NAMED_APART.has(key))
  return new Proxy(store, {
    get (target, key) {
      const fault = faults[key as keyof ImDeleteStore]
      if (fault !== undefined) return async () => fault()
      if (apart && key === 'findNamed') return undefined
      const value = target[key as keyof S]
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/**
 * Wraps a store so that `before` sees every call first: to record it, or to throw in its place.
 * Without `findNamed` (the plugin then calls each lookup by its name) unless `named` is true.
 */
export function intercepted<S extends ImDeleteStore> (store: S, before: (method: string, args: unknown[]) => void, { named = false } = {}): S {
  return new Proxy(store, {
    get (target, key) {
      if (!named && key === 'findNamed') return undefined
      const value = target[key as keyof S]
      if (typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        before(String(key), args)
        return await (value as (...args: unknown[]) => Promise<unknown>).apply(target, args)
      }
    }
  })
}

/**
 * A memory store whose erases and purge steps can be made to fail after any of their writes, from
 * outside: MemoryStore's storage is its maps, and an erase or a step runs start to end without
 * yielding, so while one runs every entry removed from a Map or Set is its write (`fault.wrote()`).
 * The armed fault throws `raise()` when given (whatever a failing store throws), else a plain Error.
 */
export class FaultyMemoryStore extends MemoryStore {
  readonly fault = new KitFault()
  raise: (() => unknown) | undefined

  constructor (dataset?: Dataset) {
    super(dataset)
    const steps = this.purge
    Object.defineProperty(this, 'purge', { value: { step: async (options: { batchSize: number }) => await this.#watched(async () => await steps.step(options)) } })
  }

  async eraseRoom (roomId: string, options?: EraseOptions): Promise<EraseResult | null> {
    return await this.#watched(async () => await super.eraseRoom(roomId, options))
  }

  async #watched<T> (run: () => Promise<T>): Promise<T> {
    const writers = [Map.prototype, Set.prototype]
    const removes = writers.map((proto) => proto.delete)
    const store = this
    writers.forEach((proto, i) => {
      proto.delete = function (this: Map<unknown, unknown> & Set<unknown>, key: unknown) {
        const had = removes[i].call(this, key)
        try {
          store.fault.wrote()
        } catch (err) {
          throw store.raise === undefined ? err : store.raise()
        }
        return had
      }
    })
    // The store's work is all done before its promise is: the maps' own methods are back at once.
    const settled = run()
    writers.forEach((proto, i) => { proto.delete = removes[i] as typeof proto.delete })
    return await settled
  }
}

export const IM_DELETE = '/api/v1/im.delete'
export const DM_DELETE = '/api/v1/dm.delete'

/** Rocket.Chat's error bodies, byte for byte. */
export const BODIES = {
  success: '{"success":true}',
  unauthorized: '{"success":false,"status":"error","message":"You must be logged in to do this.","error":"You must be logged in to do this."}',
  invalidChannel: '{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}',
  notAllowed: '{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed"}',
  eraseNotAllowed: '{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"eraseRoom"}}',
  createNotAllowed: '{"success":false,"error":"Not allowed [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"createDirectMessage"}}',
  usernameMissing: '{"success":false,"error":"Match error: Expected string, got undefined in field [0]"}',
  federated: '{"success":false,"error":"Cannot delete federated room [error-cannot-delete-federated-room]","errorType":"error-cannot-delete-federated-room","details":{"method":"eraseRoom"}}',
  appPrevented: '{"success":false,"error":"A Rocket.Chat App prevented the room erasing. [error-app-prevented-deleting]","errorType":"error-app-prevented-deleting"}',
  invalidRoom: '{"success":false,"error":"Invalid room [error-invalid-room]","errorType":"error-invalid-room","details":{"method":"eraseRoom"}}',
  internal: '{"success":false,"error":"Internal server error"}',
  invalidParams: (messages: string): string => JSON.stringify({ success: false, error: `${messages} [invalid-params]`, errorType: 'invalid-params' }),
  // Rocket.Chat's tooManyRequests answer: no errorType field.
  tooManyRequests: (seconds: number): string =>
    `{"success":false,"error":"Error, too many requests. Please slow down. You must wait ${seconds} seconds before trying this endpoint again. [error-too-many-requests]"}`
}

/** A logger configuration that keeps every line, parsed. */
export function captureLogs (level = 'info'): { logger: { level: string, stream: Writable }, lines: Array<Record<string, any>>, raw: string[] } {
  const lines: Array<Record<string, any>> = []
  const raw: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      raw.push(String(chunk))
      lines.push(JSON.parse(String(chunk)))
      done()
    }
  })
  return { logger: { level, stream }, lines, raw }
}

/**
 * What a store loaded with `dataset` must hold once `roomIds` are erased, computed on the
 * memory store (the conformance suite makes every store agree with it). Passed through JSON,
 * which drops keys holding undefined as a database does: for datasets without Dates.
 */
export async function expectedAfter (dataset: Dataset, ...roomIds: string[]): Promise<Dump> {
  const model = new MemoryStore(dataset)
  for (const roomId of roomIds) await model.eraseRoom(roomId)
  return JSON.parse(JSON.stringify(await model.dump()))
}

/** The documents naming a room (rid, or a discussion's prid) that the dump does not hold, as `collection/_id`. */
export function orphans (dump: Dump): string[] {
  const rooms = new Set(dump.rooms.map((room) => room._id))
  return [
    ...dump.rooms.filter((room) => typeof room.prid === 'string' && !rooms.has(room.prid)).map((room) => `rooms/${room._id}`),
    ...(['subscriptions', 'messages', 'uploads', 'readReceipts'] as const)
      .flatMap((name) => dump[name].filter((doc) => !rooms.has(doc.rid)).map((doc) => `${name}/${doc._id}`))
  ]
}
