import { Redis } from 'ioredis'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A connected Redis client, or null with the reason when none answers. In CI a missing
 * server is a failure, never a silent pass: .ci/run starts the services the tests need.
 */
export async function connectRedis (): Promise<{ redis: Redis } | { redis: null, reason: string }> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  try {
    await redis.connect()
    await redis.ping()
    return { redis }
  } catch (err) {
    redis.disconnect()
    const reason = `Redis at ${REDIS_URL} did not answer: ${(err as Error).message}`
    if (process.env.CI !== undefined) throw new Error(reason)
    return { redis: null, reason }
  }
}
