// @fastify/rate-limit ships its stores as plain CommonJS without declarations.
// (An ambient module cannot import a relative path; an import type may name one.)
declare module '@fastify/rate-limit/store/LocalStore.js' {
  const LocalStore: new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => import('./rate-limit.js').RateLimitStore
  export default LocalStore
}
declare module '@fastify/rate-limit/store/RedisStore.js' {
  const RedisStore: new (continueExceeding: boolean, exponentialBackoff: boolean, redis: unknown, key?: string) => import('./rate-limit.js').RateLimitStore
  export default RedisStore
}
