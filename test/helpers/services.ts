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

/** A connected Redis client closed at the end of `t`, or null (said in a comment) when none answers. */
export async function redisFor (t: { comment: (message: string) => void, teardown: (fn: () => void) => void }): Promise<Redis | null> {
  const connection = await connectRedis()
  if (connection.redis === null) {
    t.comment(`Redis run not done: ${connection.reason}`)
    return null
  }
  const { redis } = connection
  t.teardown(() => redis.disconnect())
  return redis
}
