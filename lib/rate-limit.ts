import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import Fastify, { type FastifyRequest } from 'fastify'
import { RateLimitTimeoutError } from './errors.js'

/**
 * A counter store with @fastify/rate-limit's store contract (its `incr`), given as an instance,
 * so a store written for that plugin plugs in unchanged.
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

/** The settings with every default filled in; the counter store, if any, as given. */
export type ResolvedRateLimit = Required<Omit<RateLimitSettings, 'redis' | 'store'>> & Pick<RateLimitSettings, 'redis' | 'store'>

export interface RateLimitHit {
  current: number
  /** Milliseconds until the window resets. */
  ttl: number
}

/** One call counted, as `createRateLimit` reports it (`ttl` in milliseconds): what the X-RateLimit-* headers and a 429 say. */
export interface RateLimitCount { max: number, remaining: number, ttl: number, ttlInSeconds: number, isExceeded: boolean }

/** Counts one request against its route and client IP. */
export type Limiter = (request: FastifyRequest) => Promise<RateLimitCount>

export const RATE_LIMIT_DEFAULTS = { max: 10, timeWindow: 60_000, nameSpace: 'fastify-im-delete:', skipOnError: false, timeout: 1000 }

/**
 * @fastify/rate-limit's `createRateLimit`, on a Fastify instance of its own: registered in any
 * context of the host's, the plugin does not decorate where the host's own registration is
 * visible, and `createRateLimit` would be the host's (its limits, its store).
 */
export async function createLimiter ({ max, timeWindow, redis, nameSpace, store, timeout }: ResolvedRateLimit): Promise<Limiter> {
  const holder = Fastify()
  await holder.register(rateLimit, {
    global: false,
    max,
    timeWindow,
    redis,
    nameSpace,
    // Per route and IP as before (the same Redis keys); the plugin's default would group IPv6 clients by /64.
    keyGenerator: (request) => `${request.routeOptions.url}|${request.ip}`,
    // The contract's store is a class the plugin constructs; a constructor returning an object
    // hands over that object. (Its `child` is for per-route options, which we never give.)
    store: store === undefined ? undefined : function given () { return store } as unknown as FastifyRateLimitStoreCtor
  })
  const count = holder.createRateLimit()
  return async (request) => {
    let timer: NodeJS.Timeout | undefined
    // A client that queues commands while its server is away (ioredis's offline queue, its
    // retries) would hold every request for as long: the counter gets this long, no more.
    const bound = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new RateLimitTimeoutError(timeout)) }, timeout) })
    try {
      // No allowList is given: every request is counted, none is `isAllowed`.
      return await Promise.race([count(request), bound]) as RateLimitCount
    } finally {
      clearTimeout(timer)
    }
  }
}
