import t from 'tap'
import { errors, hashLoginToken, type Caller } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE, build } from './helpers/app.js'
import { TOKENS, authHeaders, fixture } from './helpers/fixture.js'

t.test('hashLoginToken is base64 of the SHA-256, as Rocket.Chat stores login tokens', async (t) => {
  t.equal(hashLoginToken('abc'), 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=')
})

t.test('requests that fail authentication get 401 and change nothing', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  const cases: Array<[string, Record<string, string>]> = [
    ['no headers', {}],
    ['only X-User-Id', { 'x-user-id': 'admin' }],
    ['only X-Auth-Token', { 'x-auth-token': TOKENS.admin }],
    ['empty X-User-Id', { 'x-user-id': '', 'x-auth-token': TOKENS.admin }],
    ['empty X-Auth-Token', { 'x-user-id': 'admin', 'x-auth-token': '' }],
    ['a wrong token', { 'x-user-id': 'admin', 'x-auth-token': 'nope' }],
    ["another user's token", { 'x-user-id': 'admin', 'x-auth-token': TOKENS.alice }],
    ['the stored hash sent as the token', { 'x-user-id': 'admin', 'x-auth-token': hashLoginToken(TOKENS.admin) }],
    ['an unknown user', { 'x-user-id': 'ghost', 'x-auth-token': TOKENS.admin }],
    ['a user without a username', authHeaders('nameless')]
  ]
  for (const url of [IM_DELETE, DM_DELETE]) {
    for (const [name, headers] of cases) {
      const res = await app.inject({ method: 'POST', url, headers, payload: { roomId: 'alicebob' } })
      t.equal(res.statusCode, 401, `${url}: ${name}`)
      t.equal(res.body, BODIES.unauthorized, `${url}: ${name}`)
      t.match(res.headers['content-type'], /^application\/json/)
    }
  }
  t.same(await store.dump(), before)
})

t.test('a deactivated user is not authenticated, whatever login tokens the data still holds', async (t) => {
  const data = fixture()
  // As an import or a copy would leave them: Rocket.Chat itself wipes the tokens on deactivation.
  data.users = data.users.map((user) => user._id === 'admin' ? { ...user, active: false } : user)
  const { app, store } = await build({ dataset: data })
  const before = await store.dump()
  for (const url of [IM_DELETE, DM_DELETE]) {
    for (const token of [TOKENS.admin, 'old-admin']) {
      const res = await app.inject({ method: 'POST', url, headers: { 'x-user-id': 'admin', 'x-auth-token': token }, payload: { roomId: 'adminalice' } })
      t.equal(res.statusCode, 401, `${url}: ${token}`)
      t.equal(res.body, BODIES.unauthorized, `${url}: ${token}`)
    }
  }
  t.same(await store.dump(), before, 'nothing erased')
  t.equal(await store.findUserByLoginToken?.('admin', hashLoginToken(TOKENS.admin)), null, "the store's own lookup refuses them")
  t.equal((await store.findUser('admin'))?._id, 'admin', 'while findUser still finds them (they can be named as a DM partner)')
  const active = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(active.body, BODIES.eraseNotAllowed, 'an active user of the same data is let in')
})

t.test('a user without `active` is active', async (t) => {
  const data = fixture()
  data.users = data.users.map(({ active, ...user }) => user)
  const { app } = await build({ dataset: data })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'adminalice' } })
  t.equal(res.body, BODIES.success)
})

t.test('the default authenticate refuses a deactivated user even from a store that hands one back', async (t) => {
  const { store } = await build()
  const careless = new Proxy(store, {
    get (target, key) {
      if (key === 'findUserByLoginToken') return async (userId: string) => ({ ...(await target.findUser(userId)), active: false })
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const { app } = await build({ store: careless })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'adminalice' } })
  t.equal(res.statusCode, 401)
  t.equal(res.body, BODIES.unauthorized)
})

t.test('a user without login tokens cannot authenticate', async (t) => {
  const { app } = await build({ dataset: { users: [{ _id: 'u', username: 'u', roles: ['admin'] }] } })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'x-user-id': 'u', 'x-auth-token': 'x' }, payload: {} })
  t.equal(res.statusCode, 401)
})

t.test('a stored user without roles holds none', async (t) => {
  const { app } = await build({ dataset: { users: [{ _id: 'u', username: 'u', services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('x') }] } } }] } })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'x-user-id': 'u', 'x-auth-token': 'x' }, payload: { username: 'u' } })
  t.equal(res.body, BODIES.createNotAllowed, 'authenticated, but without create-d (no self-DM yet)')
})

t.test('any of a user\'s login tokens authenticates', async (t) => {
  const { app } = await build()
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'x-user-id': 'admin', 'x-auth-token': 'old-admin' }, payload: { roomId: 'adminalice' } })
  t.equal(res.body, BODIES.success)
})

t.test('authentication happens before the body is read', async (t) => {
  const { app } = await build()
  const malformed = await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'content-type': 'application/json' }, payload: '{"roomId":' })
  t.equal(malformed.statusCode, 401, 'unparseable body, no credentials')
  const huge = await app.inject({ method: 'POST', url: IM_DELETE, payload: { roomId: 'x'.repeat(200_000) } })
  t.equal(huge.statusCode, 401, 'oversized body, no credentials')
  const unsupported = await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'content-type': 'text/csv' }, payload: 'a,b' })
  t.equal(unsupported.statusCode, 401, 'unsupported content type, no credentials')
})

t.test('a custom authenticate hook, sync or async, replaces the default', async (t) => {
  const callers: Record<string, Caller> = {
    'Bearer root': { _id: 'admin', username: 'admin', roles: ['admin'] }
  }
  for (const mode of ['sync', 'async'] as const) {
    const lookup = (authorization: unknown): Caller | null => callers[String(authorization)] ?? null
    const { app } = await build({
      authenticate: mode === 'sync'
        ? (request) => lookup(request.headers.authorization)
        : async (request) => lookup(request.headers.authorization)
    })
    const ok = await app.inject({ method: 'POST', url: IM_DELETE, headers: { authorization: 'Bearer root' }, payload: { roomId: 'alicebob' } })
    t.equal(ok.body, BODIES.success, `${mode}: known caller`)
    const denied = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'adminbob' } })
    t.equal(denied.body, BODIES.unauthorized, `${mode}: the default check is gone`)
  }
})

t.test('a custom authenticate hook may also refuse by throwing errors.UnauthorizedError: the same 401', async (t) => {
  const refuse = async (): Promise<Caller> => { throw new errors.UnauthorizedError() }
  const { app } = await build({ authenticate: refuse })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
  t.equal(res.statusCode, 401)
  t.equal(res.body, BODIES.unauthorized)
})

t.test('what a custom authenticate hook returns is checked', async (t) => {
  const results: unknown[] = [undefined, null, {}, { _id: 'admin' }, { _id: 'admin', username: '' }, { _id: 7, username: 'admin' }]
  for (const result of results) {
    const { app } = await build({ authenticate: () => result as Caller })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, payload: { roomId: 'alicebob' } })
    t.equal(res.statusCode, 401, JSON.stringify(result))
  }
  const { app } = await build({ authenticate: () => ({ _id: 'alice', username: 'alice' }) as Caller })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.notAllowed, 'a caller without roles holds none, not even view-d-room')
})

t.test('an authenticate hook that throws answers 500 without details', async (t) => {
  const { app } = await build({ authenticate: () => { throw new Error('auth backend down at 10.0.0.1') } })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, payload: { roomId: 'alicebob' } })
  t.equal(res.statusCode, 500)
  t.equal(res.body, BODIES.internal)
})
