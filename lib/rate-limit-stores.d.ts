// @fastify/rate-limit ships its stores as plain CommonJS without declarations.
declare module '@fastify/rate-limit/store/LocalStore.js' {
  import type { RateLimitStore } from './rate-limit.js'
  const LocalStore: new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore
  export default LocalStore
}
declare module '@fastify/rate-limit/store/RedisStore.js' {
  import type { RateLimitStore } from './rate-limit.js'
  const RedisStore: new (continueExceeding: boolean, exponentialBackoff: boolean, redis: unknown, key?: string) => RateLimitStore
  export default RedisStore
}
