import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import t from 'tap'
import imDeletePlugin, { MemoryStore, imDeletePlugin as named, type ImDeleteOptions } from '../index.js'
import { STORE_METHODS } from '../lib/store.js'
import { BODIES } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'

const store = (): MemoryStore => new MemoryStore(fixture())

/** The use case's methods only, as a store over a host's own sessions has them. */
function withoutTokenLookup (): object {
  const memory = store()
  return Object.fromEntries(STORE_METHODS.map((method) => [method, memory[method].bind(memory)]))
}

t.test('the default export is the plugin, also exported by name, wrapped with fastify-plugin', async (t) => {
  t.equal(imDeletePlugin, named)
  t.equal((imDeletePlugin as any)[Symbol.for('fastify.display-name')], 'fastify-im-delete')
  t.equal((imDeletePlugin as any)[Symbol.for('plugin-meta')].fastify, '5.x')
})

t.test('a bad option fails register with an error naming it', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /option 'store' is required/],
    ['store missing', {}, /option 'store' is required/],
    ['store null', { store: null }, /option 'store' is required/],
    ['store incomplete', { store: { findRoomById () {} } }, /option 'store' must implement findUser\(\)/],
    ['store without the token lookup, default authenticate', { store: withoutTokenLookup() }, /option 'store' must implement findUserByLoginToken\(\) for the default authenticate \(or give your own authenticate\)/],
    ['authenticate', { authenticate: 'yes' }, /option 'authenticate' must be a function/],
    ['hasPermission', { hasPermission: {} }, /option 'hasPermission' must be a function/],
    ['permissions not an object', { permissions: 'admin' }, /option 'permissions' must map/],
    ['permissions null', { permissions: null }, /option 'permissions' must map/],
    ['permissions roles', { permissions: { 'delete-d': 'admin' } }, /option 'permissions' must map/],
    ['permissions role type', { permissions: { 'delete-d': [1] } }, /option 'permissions' must map/],
    ['prefix type', { prefix: 5 }, /option 'prefix' must be/],
    ['prefix slash', { prefix: 'api' }, /option 'prefix' must be/],
    ['prefix trailing', { prefix: '/api/' }, /option 'prefix' must be/],
    ['rateLimit true', { rateLimit: true }, /option 'rateLimit' must be false or an object/],
    ['rateLimit null', { rateLimit: null }, /option 'rateLimit' must be false or an object/],
    ['rateLimit.max', { rateLimit: { max: 0 } }, /option 'rateLimit.max' must be a positive integer/],
    ['rateLimit.timeWindow', { rateLimit: { timeWindow: 1.5 } }, /option 'rateLimit.timeWindow' must be a positive integer/],
    ['rateLimit.timeout', { rateLimit: { timeout: 0 } }, /option 'rateLimit.timeout' must be a positive integer/],
    ['rateLimit.store', { rateLimit: { store: {} } }, /option 'rateLimit.store' must have an incr\(\) method/],
    ['rateLimit.redis', { rateLimit: { redis: 'redis://localhost' } }, /option 'rateLimit.redis' must be an ioredis client/],
    ['rateLimit.nameSpace', { rateLimit: { nameSpace: 1 } }, /option 'rateLimit.nameSpace' must be a string/],
    ['rateLimit.skipOnError', { rateLimit: { skipOnError: 'yes' } }, /option 'rateLimit.skipOnError' must be a boolean/],
    ['onBeforeErase', { onBeforeErase: 'no' }, /option 'onBeforeErase' must be a function or an array of functions/],
    ['onAfterErase', { onAfterErase: [() => {}, null] }, /option 'onAfterErase' must be a function or an array of functions/],
    ['fileStore', { fileStore: {} }, /option 'fileStore' must have a remove\(\) method/],
    ['fileStore null', { fileStore: null }, /option 'fileStore' must have a remove\(\) method/],
    ['fileStore.removeAvatar', { fileStore: { remove () {}, removeAvatar: 1 } }, /option 'fileStore' must have a remove\(\) method/],
    ['hookTimeout', { hookTimeout: -1 }, /option 'hookTimeout' must be a positive integer/],
    ['bodyLimit', { bodyLimit: '1mb' }, /option 'bodyLimit' must be a positive integer/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    const full = options === undefined || name.startsWith('store') || name === 'no options'
      ? options
      : { store: store(), ...(options as object) }
    await t.rejects(async () => { await app.register(imDeletePlugin, full as ImDeleteOptions) }, { code: 'FST_IM_DELETE_INVALID_OPTION', message }, name)
  }
})

t.test('a store without the token lookup works when the host authenticates', async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, {
    store: withoutTokenLookup() as ImDeleteOptions['store'],
    authenticate: () => ({ _id: 'admin', username: 'admin', roles: ['admin'] })
  })
  const res = await app.inject({ method: 'POST', url: '/api/v1/im.delete', payload: { roomId: 'adminbob' } })
  t.equal(res.body, BODIES.success)
})

t.test("the caller's options object is not mutated", async (t) => {
  const hook = (): void => {}
  const options = { store: store(), permissions: { 'delete-d': ['admin', 'user'] }, rateLimit: { max: 5 }, onAfterErase: [hook] }
  const app = Fastify()
  await app.register(imDeletePlugin, options)
  await app.ready()
  t.same(Object.keys(options), ['store', 'permissions', 'rateLimit', 'onAfterErase'], 'no option added or removed')
  t.same(options.permissions, { 'delete-d': ['admin', 'user'] })
  t.same(options.rateLimit, { max: 5 }, 'no defaults written into it')
  t.equal(options.onAfterErase.length, 1)
  t.equal(options.onAfterErase[0], hook)
  // Frozen all the way down, the same options still register (a write would throw in strict mode).
  const frozen = Object.freeze({
    store: store(),
    permissions: Object.freeze({ 'delete-d': Object.freeze(['admin', 'user']) }),
    rateLimit: Object.freeze({ max: 5 }),
    onAfterErase: Object.freeze([hook]) as any
  })
  await t.resolves(async () => { await Fastify().register(imDeletePlugin, frozen).ready() })
})

t.test('prefix: the option, the register option, and the host prefix compose', async (t) => {
  const cases: Array<[string, (app: ReturnType<typeof Fastify>) => Promise<unknown>, string]> = [
    ['default', async (app) => app.register(imDeletePlugin, { store: store() }), '/api/v1/im.delete'],
    ['option', async (app) => app.register(imDeletePlugin, { store: store(), prefix: '/chat/api' }), '/chat/api/dm.delete'],
    ['empty', async (app) => app.register(imDeletePlugin, { store: store(), prefix: '' }), '/im.delete'],
    ['inside a host prefix', async (app) => app.register(async (child: ReturnType<typeof Fastify>) => { await child.register(imDeletePlugin, { store: store() }) }, { prefix: '/v2' }), '/v2/api/v1/im.delete']
  ]
  for (const [name, register, url] of cases) {
    const app = Fastify()
    await register(app)
    const res = await app.inject({ method: 'POST', url, headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
    t.equal(res.body, BODIES.success, name)
  }
})

t.test("our error handler, validator and parsers do not leak into the host's routes", async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, { store: store() })
  app.post('/host', {
    schema: { body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } }
  }, async (request) => request.body)
  await app.ready()

  const stripped = await app.inject({ method: 'POST', url: '/host', payload: { n: '7', extra: true } })
  t.equal(stripped.statusCode, 200)
  t.same(stripped.json(), { n: 7, extra: true }, "Fastify's own validator (coercion) still serves the host")

  const invalid = await app.inject({ method: 'POST', url: '/host', payload: {} })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' }, "Fastify's error shape")

  const malformed = await app.inject({ method: 'POST', url: '/host', headers: { 'content-type': 'application/json' }, payload: '{' })
  t.match(malformed.json(), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' })

  const form = await app.inject({ method: 'POST', url: '/host', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'n=1' })
  t.equal(form.statusCode, 415, 'no form parser on host routes')

  const thrower = Fastify()
  await thrower.register(imDeletePlugin, { store: store() })
  thrower.get('/boom', async () => { throw new Error('boom') })
  t.match((await thrower.inject('/boom')).json(), { statusCode: 500, error: 'Internal Server Error', message: 'boom' })
})

t.test('a host that registered @fastify/formbody and its own JSON parser still works with us', async (t) => {
  const app = Fastify()
  await app.register(formbody)
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, { hostParsed: body }))
  await app.register(imDeletePlugin, { store: store() })
  app.post('/host', async (request) => request.body)
  const ours = await app.inject({ method: 'POST', url: '/api/v1/im.delete', headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
  t.equal(ours.body, BODIES.success)
  const theirs = await app.inject({ method: 'POST', url: '/host', payload: { a: 1 } })
  t.same(theirs.json(), { hostParsed: '{"a":1}' })
})

t.test('closing the app waits for after-erase work in flight', async (t) => {
  let finished = false
  const app = Fastify()
  await app.register(imDeletePlugin, {
    store: store(),
    onAfterErase: async () => { await new Promise((resolve) => setTimeout(resolve, 30)); finished = true }
  })
  const res = await app.inject({ method: 'POST', url: '/api/v1/im.delete', headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  t.equal(finished, false, 'the response did not wait for the hook')
  await app.close()
  t.equal(finished, true)
})
