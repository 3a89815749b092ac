import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import imDeletePlugin, { MemoryStore } from '../index.js'
import { IM_DELETE } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'
import { redisFor } from './helpers/services.js'

t.test('with a Redis client the limit is shared by every server using that Redis', async (t) => {
  const redis = await redisFor(t)
  if (redis === null) return
  const nameSpace = `fastify-im-delete-test:${randomUUID()}:`
  const servers = await Promise.all([1, 2].map(async () => {
    const app = Fastify()
    await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), rateLimit: { redis, nameSpace, max: 4 } })
    t.teardown(() => app.close())
    return app
  }))
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const res = await servers[i % 2].inject({ method: 'POST', url: IM_DELETE, remoteAddress: '10.7.7.7', headers: authHeaders('alice'), payload: { roomId: 'nope' } })
    statuses.push(res.statusCode)
    if (i === 3) t.equal(res.headers['x-ratelimit-remaining'], '0')
  }
  t.same(statuses, [400, 400, 400, 400, 429, 429], 'four calls across two servers use up the allowance')
  const keys = await redis.keys(`${nameSpace}*`)
  t.same(keys, [`${nameSpace}/api/v1/im.delete|10.7.7.7`], 'one counter per route and IP, under the namespace')
  const ttl = await redis.pttl(keys[0])
  t.ok(ttl > 0 && ttl <= 60_000, 'the counter expires with the window')
  await redis.del(keys)
})

t.test('a Redis that does not answer: 500, or requests let through with skipOnError', async (t) => {
  const { Redis } = await import('ioredis')
  for (const skipOnError of [false, true]) {
    const redis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    // The application owns its client's 'error' events (without a listener ioredis prints them).
    const connectionErrors: string[] = []
    redis.on('error', (err: Error) => { connectionErrors.push(err.message) })
    t.teardown(() => redis.disconnect())
    const app = Fastify()
    await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), rateLimit: { redis, skipOnError } })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'nope' } })
    t.equal(res.statusCode, skipOnError ? 400 : 500, `skipOnError: ${String(skipOnError)}`)
    t.match(connectionErrors, [/ECONNREFUSED/], 'the request really met a Redis that refused the connection')
    await app.close()
  }
})
