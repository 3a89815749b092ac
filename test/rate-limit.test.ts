import rateLimitPlugin from '@fastify/rate-limit'
import Fastify from 'fastify'
import t from 'tap'
import imDeletePlugin, { MemoryStore, type RateLimitStore } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE, build, captureLogs } from './helpers/app.js'
import { authHeaders, fixture, type Who } from './helpers/fixture.js'

const limited = { rateLimit: {} }

function call (app: Awaited<ReturnType<typeof build>>['app'], options: { who?: Who, url?: string, ip?: string, payload?: object } = {}) {
  const { who = 'alice', url = IM_DELETE, ip = '10.1.1.1', payload = { roomId: 'nope' } } = options
  return app.inject({ method: 'POST', url, remoteAddress: ip, headers: authHeaders(who), payload })
}

t.test("on by default with Rocket.Chat's limits: 10 calls per 60 s, per client IP and route", async (t) => {
  const { app } = await build(limited)
  const start = Date.now()
  for (let i = 1; i <= 10; i++) {
    const res = await call(app)
    t.equal(res.body, BODIES.invalidChannel, `call ${i} goes through`)
    t.equal(res.headers['x-ratelimit-limit'], '10')
    t.equal(res.headers['x-ratelimit-remaining'], String(10 - i))
    const reset = Number(res.headers['x-ratelimit-reset'])
    t.ok(reset >= start + 59_000 && reset <= Date.now() + 60_000, 'Reset is an epoch time in milliseconds')
  }
  const res = await call(app)
  t.equal(res.statusCode, 429)
  const seconds = Math.ceil((Number(res.headers['x-ratelimit-reset']) - Date.now()) / 1000)
  t.ok(seconds >= 59 && seconds <= 60)
  // Rocket.Chat's tooManyRequests answer, byte for byte: no errorType field (rev 2).
  t.ok([BODIES.tooManyRequests(59), BODIES.tooManyRequests(60)].includes(res.body), res.body)
  t.equal(res.headers['x-ratelimit-remaining'], '0')

  t.equal((await call(app, { url: DM_DELETE })).statusCode, 400, 'dm.delete counts separately')
  t.equal((await call(app, { ip: '10.9.9.9' })).statusCode, 400, 'another client IP counts separately')
  t.equal((await call(app, { who: 'bob' })).statusCode, 429, 'another user from the same IP shares the count')
})

t.test('the limit is checked before the body', async (t) => {
  const { app } = await build({ rateLimit: { max: 1 } })
  await call(app)
  const res = await app.inject({ method: 'POST', url: IM_DELETE, remoteAddress: '10.1.1.1', headers: { ...authHeaders('alice'), 'content-type': 'application/json' }, payload: '{oops' })
  t.equal(res.statusCode, 429)
})

t.test('failed authentication is answered before the limiter and uses up nobody\'s allowance', async (t) => {
  const { app } = await build({ rateLimit: { max: 2 } })
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, remoteAddress: '10.1.1.1', payload: {} })
    t.equal(res.statusCode, 401)
    t.notOk('x-ratelimit-limit' in res.headers, 'no rate-limit headers on 401')
  }
  t.equal((await call(app)).statusCode, 400)
  t.equal((await call(app)).statusCode, 400)
  t.equal((await call(app)).statusCode, 429)
})

t.test('holders of api-bypass-rate-limit (admin, bot, app by default) are not limited', async (t) => {
  const { app } = await build({ rateLimit: { max: 1 } })
  for (const who of ['admin', 'bot'] as const) {
    for (let i = 0; i < 3; i++) {
      const res = await call(app, { who })
      t.equal(res.statusCode, 400, `${who} call ${i}`)
      t.notOk('x-ratelimit-limit' in res.headers)
    }
  }
  const custom = await build({ rateLimit: { max: 1 }, permissions: { 'api-bypass-rate-limit': ['user'] } })
  t.equal((await call(custom.app)).statusCode, 400)
  t.equal((await call(custom.app)).statusCode, 400, 'the role table decides')
})

t.test('max and timeWindow are configurable', async (t) => {
  const { app } = await build({ rateLimit: { max: 3, timeWindow: 5_000 } })
  for (let i = 0; i < 3; i++) await call(app)
  const res = await call(app)
  t.equal(res.statusCode, 429)
  t.equal(res.headers['x-ratelimit-limit'], '3')
  t.ok(Number(res.headers['x-ratelimit-reset']) <= Date.now() + 5_000)
  t.equal(res.body, BODIES.tooManyRequests(5))
})

t.test('the rateLimit option left out means on, with the defaults', async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()) })
  for (let i = 1; i <= 10; i++) t.equal((await call(app)).body, BODIES.invalidChannel, `call ${i} goes through`)
  const res = await call(app)
  t.equal(res.statusCode, 429)
  t.equal(res.headers['x-ratelimit-limit'], '10')
})

t.test('rateLimit: false turns it off', async (t) => {
  const { app } = await build({ rateLimit: false })
  for (let i = 0; i < 15; i++) t.equal((await call(app)).statusCode, 400)
  t.notOk('x-ratelimit-limit' in (await call(app)).headers)
})

t.test('a custom counter store (the @fastify/rate-limit store contract) is used, keyed by route and IP', async (t) => {
  const keys: string[] = []
  const store: RateLimitStore = {
    incr (key, callback, timeWindow, max) {
      keys.push(`${key} ${timeWindow} ${max}`)
      callback(null, { current: 42, ttl: 1_500 })
    }
  }
  const { app } = await build({ rateLimit: { store } })
  const sent = Date.now()
  const res = await call(app, { ip: '10.2.3.4' })
  const received = Date.now()
  t.equal(res.body, BODIES.tooManyRequests(2), 'ttl 1500 ms → 2 seconds')
  t.same(keys, ['/api/v1/im.delete|10.2.3.4 60000 10'])
  const reset = Number(res.headers['x-ratelimit-reset'])
  t.ok(reset >= sent + 1_500 && reset <= received + 1_500, 'X-RateLimit-Reset: now plus what the window has left (the ttl), not a whole window')
})

t.test('a failing counter store answers 500, or lets requests through with skipOnError', async (t) => {
  const store: RateLimitStore = { incr (_key, callback) { callback(new Error('redis down'), { current: 0, ttl: 0 }) } }
  const strict = await build({ rateLimit: { store } })
  t.equal((await call(strict.app)).body, BODIES.internal)
  const lenient = await build({ rateLimit: { store, skipOnError: true } })
  const res = await call(lenient.app)
  t.equal(res.body, BODIES.invalidChannel)
  t.notOk('x-ratelimit-limit' in res.headers)
})

t.test('a failing counter store is logged without what its client attached to the error', async (t) => {
  // ioredis puts the command and its arguments on its errors; a store of one's own may attach anything.
  const attached = 'counter-7c1f-attached'
  const failure = Object.assign(new Error('redis down'), { code: 'ECONNREFUSED', command: { name: 'rateLimit', args: [attached] } })
  const store: RateLimitStore = { incr (_key, callback) { callback(failure, { current: 0, ttl: 0 }) } }
  for (const skipOnError of [false, true]) {
    const logs = captureLogs()
    const { app } = await build({ rateLimit: { store, skipOnError }, fastify: { logger: logs.logger } })
    await call(app)
    t.match(logs.lines.filter((line) => line.level >= 40), [{
      level: skipOnError ? 40 : 50,
      msg: skipOnError ? 'im.delete: rate-limit store failed; request let through' : 'im.delete: request failed',
      err: { type: 'Error', message: 'redis down', code: 'ECONNREFUSED', stack: String }
    }], `skipOnError ${String(skipOnError)}: logged once, with its type, message, code and stack`)
    t.notOk(logs.raw.join('').includes(attached), 'and nothing else of it')
  }
})

t.test("a host's own @fastify/rate-limit neither limits nor counts our routes", async (t) => {
  const app = Fastify()
  await app.register(rateLimitPlugin, { global: true, max: 1, timeWindow: 60_000 })
  app.post('/host', async () => ({ ok: true }))
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), rateLimit: { max: 3 } })
  await app.ready()
  for (let i = 1; i <= 3; i++) {
    const res = await call(app)
    t.equal(res.statusCode, 400, `our call ${i}`)
    t.equal(res.headers['x-ratelimit-limit'], '3', 'our limit, our headers')
    t.equal(res.headers['x-ratelimit-remaining'], String(3 - i), 'counted once')
  }
  t.equal((await call(app)).statusCode, 429)
  t.equal((await app.inject({ method: 'POST', url: '/host', remoteAddress: '10.1.1.1' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/host', remoteAddress: '10.1.1.1' })).statusCode, 429, 'the host limiter still guards its routes')
})
