import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import { RateLimitTimeoutError } from './errors.js'

/**
 * A counter store with @fastify/rate-limit's store contract, so its stores (and any custom
 * one written for it) plug in unchanged.
 */
export interface RateLimitStore {
  incr (
    key: string,
    callback: (err: Error | null, result: RateLimitHit) => void,
    timeWindow: number,
    max: number
  ): void
}

/** What the Redis counter store needs of an ioredis client: it defines its Lua command on it. */
export interface RedisClient {
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
}

export interface RateLimitSettings {
  /** Calls allowed per client IP, per route, in each window. Default 10 (Rocket.Chat's). */
  max?: number
  /** The window, in milliseconds. Default 60000 (Rocket.Chat's). */
  timeWindow?: number
  /** An ioredis client: the counts are then shared by every process using that Redis. */
  redis?: RedisClient
  /** Prefix of the Redis keys. Default `fastify-im-delete:`. */
  nameSpace?: string
  /** A custom counter store; takes precedence over `redis`. */
  store?: RateLimitStore
  /** Let requests through (instead of answering 500) when the counter store fails. Default false. */
  skipOnError?: boolean
  /**
   * Milliseconds the counter store may take to count a call; after that the call is handled as a
   * counter failure (500, or let through with `skipOnError`). Default 1000.
   */
  timeout?: number
}

export interface RateLimitHit {
  current: number
  /** Milliseconds until the window resets. */
  ttl: number
}

export interface Limiter {
  readonly max: number
  hit (key: string): Promise<RateLimitHit>
}

export const RATE_LIMIT_DEFAULTS = { max: 10, timeWindow: 60_000, nameSpace: 'fastify-im-delete:', skipOnError: false, timeout: 1000 }

export function createLimiter (settings: RateLimitSettings): Limiter {
  const { max, timeWindow, nameSpace, timeout } = { ...RATE_LIMIT_DEFAULTS, ...settings }
  const store: RateLimitStore = settings.store ??
    (settings.redis !== undefined ? new RedisStore(false, false, settings.redis, nameSpace) : new LocalStore(false, false))
  return {
    max,
    hit (key) {
      return new Promise((resolve, reject) => {
        // A client that queues commands while its server is away (ioredis's offline queue, its
        // retries) would hold every request for as long: the counter gets this long, no more.
        const timer = setTimeout(() => { reject(new RateLimitTimeoutError(timeout)) }, timeout)
        store.incr(key, (err, result) => {
          clearTimeout(timer)
          if (err) reject(err)
          else resolve(result)
        }, timeWindow, max)
      })
    }
  }
}
