import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { MemoryStore, errors, hashLoginToken } from '../index.js'
import { STORE_METHODS } from '../lib/store.js'
import { BODIES, DM_DELETE, FaultyMemoryStore, IM_DELETE, build, captureLogs, faulty, intercepted } from './helpers/app.js'
import { TOKENS, authHeaders, fixture } from './helpers/fixture.js'
import { LEAKY_MESSAGES, SEED_NOTE, failure, materialize, runs, type Failure } from './helpers/fuzz.js'

t.comment(SEED_NOTE)

const admin = authHeaders('admin')

/** How many writes the erase of a room of the fixture makes (a fault armed after more never fires). */
async function writesOf (roomId: string): Promise<number> {
  for (let write = 1; ; write++) {
    const store = new FaultyMemoryStore(fixture())
    store.fault.arm(write)
    await store.eraseRoom(roomId).catch(() => {})
    if (!store.fault.fired()) return write - 1
  }
}

/** A step of the request the store can fail at: one of its methods, or after a write inside the erase. */
const storeStep = fc.oneof(
  fc.constantFrom('findUserByLoginToken' as const, ...STORE_METHODS),
  fc.record({ write: fc.integer({ min: 1, max: await writesOf('adminbob') }) })
)

t.test('store errors that used to leak or crash the error handler: a 500 that says nothing', async (t) => {
  const cases: Array<[string, Failure]> = [
    ['a MongoDB error (numeric code)', { kind: 'error', message: LEAKY_MESSAGES[1], code: 11000, frozen: false }],
    ['an error whose code names one of ours', { kind: 'error', message: LEAKY_MESSAGES[0], code: 'FST_IM_DELETE_NOT_ALLOWED', statusCode: 400, frozen: false }],
    ["an error whose code names Fastify's body errors", { kind: 'error', message: LEAKY_MESSAGES[0], code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, frozen: false }],
    ['an error whose code is an Object.prototype key', { kind: 'error', message: LEAKY_MESSAGES[0], code: 'constructor', frozen: false }],
    ['an error carrying validation results', { kind: 'error', message: LEAKY_MESSAGES[0], validation: [{ message: LEAKY_MESSAGES[0] }], frozen: false }],
    ['a frozen error', { kind: 'error', message: LEAKY_MESSAGES[2], frozen: true }],
    ['an error whose message throws when read', { kind: 'getter', message: LEAKY_MESSAGES[3], property: 'message' }],
    ['an error whose constructor throws when read', { kind: 'getter', message: LEAKY_MESSAGES[3], property: 'constructor' }],
    ['null', { kind: 'value', value: null }],
    ['undefined', { kind: 'value', value: undefined }]
  ]
  for (const [name, fault] of cases) {
    // With a real logger: pino's serializer is one of the things a hostile error trips.
    const logs = captureLogs()
    const store = faulty(new MemoryStore(fixture()), { findRoomById: () => { throw materialize(fault) } })
    const { app } = await build({ store, fastify: { logger: logs.logger } })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'adminbob' } })
    t.equal(res.statusCode, 500, name)
    t.equal(res.body, BODIES.internal, name)
    t.match(logs.lines.filter((line) => line.level >= 50), [{ msg: 'im.delete: request failed', reqId: String }], `${name}: logged once`)
  }
})

t.test('an error posing as one of ours (its own constructor names our class) is still a 500', async (t) => {
  for (const ErrorClass of [errors.InvalidChannelError, errors.UnauthorizedError, errors.InvalidParamsError]) {
    const posing = Object.assign(new Error(LEAKY_MESSAGES[0]), { constructor: ErrorClass, statusCode: 400 })
    const store = faulty(new MemoryStore(fixture()), { findRoomById: () => { throw posing } })
    const { app } = await build({ store })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'adminbob' } })
    const posed = new ErrorClass().code
    t.equal(res.statusCode, 500, posed)
    t.equal(res.body, BODIES.internal, posed)
  }
})

t.test('whatever a failing store throws, at any step: Rocket.Chat\'s 500 and nothing more, data whole, logged, and the server goes on', async (t) => {
  const logs = captureLogs()
  const memory = new FaultyMemoryStore(fixture())
  const pristine = await memory.dump()
  let armed: { method: string, failure: Failure } | null = null
  const store = intercepted(memory, (method) => { if (armed?.method === method) throw materialize(armed.failure) })
  const { app } = await build({ store, fastify: { logger: logs.logger } })
  let cases = 0
  await fc.assert(fc.asyncProperty(storeStep, failure, fc.constantFrom(IM_DELETE, DM_DELETE), async (step, fault, url) => {
    // The username path is the one that looks users and DMs up by name.
    const payload = step === 'findUser' || step === 'findDirectRoom' ? { username: 'bob' } : { roomId: 'adminbob' }
    if (typeof step === 'string') armed = { method: step, failure: fault }
    else {
      memory.fault.arm(step.write)
      memory.raise = () => materialize(fault)
    }
    const logged = logs.lines.length
    try {
      const res = await app.inject({ method: 'POST', url, headers: admin, payload })
      assert.equal(res.statusCode, 500)
      assert.equal(res.body, BODIES.internal, 'no message, code, stack or SQL of the failure reaches the client')
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
      assert.deepEqual(await memory.dump(), pristine, 'the data is whole')
      const errors = logs.lines.slice(logged).filter((line) => line.level >= 50)
      assert.equal(errors.length, 1, 'logged once, at error level')
      assert.equal(errors[0].msg, 'im.delete: request failed')
      assert.equal(typeof errors[0].reqId, 'string', 'with the request id')
    } finally {
      armed = null
      memory.fault.fired()
      memory.raise = undefined
    }
    const healed = await app.inject({ method: 'POST', url, headers: admin, payload })
    assert.equal(healed.body, BODIES.success, 'the same request succeeds once the store does')
    await memory.import(pristine)
    cases++
  }), runs(400))
  t.equal(cases, runs(400).numRuns, 'every case ran to the end')
})

// ---------------------------------------------------------------------------------------------
// Timing: no clock can pin this down without flaking, so we pin what makes it hold instead:
// the verdict on a login token is crypto.timingSafeEqual's alone, over every stored hash.
// ---------------------------------------------------------------------------------------------

t.test('login-token hashes: every stored one is compared with timingSafeEqual, and its verdict alone counts', async (t) => {
  const compared: string[] = []
  let verdict = crypto.timingSafeEqual
  const { MemoryStore: Spied } = await t.mockImport<typeof import('../lib/stores/memory.js')>('../lib/stores/memory.js', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (stored: Buffer, given: Buffer) => {
        compared.push(`${String(stored)} ${String(given)}`)
        return verdict(stored, given)
      }
    }
  })
  const hashes = ['first', 'second', 'third'].map(hashLoginToken)
  const store = new Spied({ users: [{ _id: 'u', username: 'u', services: { resume: { loginTokens: hashes.map((hashedToken) => ({ hashedToken })) } } }] })

  for (const [position, given] of [...hashes, hashLoginToken('wrong')].entries()) {
    compared.length = 0
    const found = await store.findUserByLoginToken('u', given)
    t.equal(found?._id, position < hashes.length ? 'u' : undefined, `token at position ${position}`)
    t.same(compared, hashes.map((stored) => `${stored} ${given}`), `position ${position}: compared with every stored hash, no early exit`)
  }

  verdict = () => false
  t.equal(await store.findUserByLoginToken('u', hashes[0]), null, 'equal bytes that timingSafeEqual denies are no match: no === decides')
  verdict = () => true
  t.match(await store.findUserByLoginToken('u', hashLoginToken('wrong')), { _id: 'u' }, 'and what it accepts is one')
})

// ---------------------------------------------------------------------------------------------
// Enumeration: a wrong token for a real user must look exactly like a user that does not exist.
// ---------------------------------------------------------------------------------------------

t.test('a wrong token for an existing user and an unknown user: the same status, bytes and headers, the same work', async (t) => {
  for (const rateLimit of [false, {}] as const) {
    const calls: string[] = []
    const memory = new MemoryStore(fixture())
    const store = intercepted(memory, (method) => { calls.push(method) })
    const { app } = await build({ store, rateLimit })
    const probes: Record<string, Record<string, string>> = {
      'a wrong token for admin': { 'x-user-id': 'admin', 'x-auth-token': 'guess' },
      "another user's token for admin": { 'x-user-id': 'admin', 'x-auth-token': TOKENS.alice },
      'an unknown user': { 'x-user-id': 'nobody', 'x-auth-token': 'guess' },
      'an unknown user with a real token': { 'x-user-id': 'nobody', 'x-auth-token': TOKENS.admin },
      'a user without a username': authHeaders('nameless'),
      'no token': { 'x-user-id': 'admin' }
    }
    const seen = new Map<string, string>()
    for (const [name, headers] of Object.entries(probes)) {
      calls.length = 0
      const res = await app.inject({ method: 'POST', url: IM_DELETE, headers, payload: { roomId: 'alicebob' } })
      const { date, ...rest } = res.headers
      seen.set(name, JSON.stringify([res.statusCode, Object.entries(rest), res.rawPayload.toString('base64')]))
      t.same(calls, headers['x-auth-token'] === undefined ? [] : ['findUserByLoginToken'], `${name}: one lookup, nothing else`)
    }
    const [first, ...others] = [...seen.values()]
    t.ok(others.every((answer) => answer === first), `rate limit ${rateLimit === false ? 'off' : 'on'}: every probe answered identically`)
    t.match(first, /^\[401,/)
  }
})

// ---------------------------------------------------------------------------------------------
// Logs: one audit line per erase, and no token, raw or hashed, in any line at any level.
// ---------------------------------------------------------------------------------------------

t.test('every path at trace level: one audit line per erase, no token or hashed token anywhere', async (t) => {
  const logs = captureLogs('trace')
  const memory = new MemoryStore(fixture())
  let failing: string | null = null
  const store = intercepted(memory, (method) => { if (failing === method) throw new Error(`${method} failed: connection reset`) })
  const { app } = await build({
    store,
    fastify: { logger: logs.logger },
    rateLimit: { max: 1 },
    fileStore: { remove: async () => { throw new Error('blob store offline') } },
    onAfterErase: () => { throw new Error('broadcast failed') }
  })
  // A client address per call, so only the calls meant to meet the limit do.
  let client = 0
  const call = async (headers: Record<string, string>, payload: unknown, contentType = 'application/json', ip = `10.0.0.${++client}`): Promise<number> =>
    (await app.inject({ method: 'POST', url: IM_DELETE, remoteAddress: ip, headers: { ...headers, 'content-type': contentType }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })).statusCode
  const statuses = [
    await call(admin, { roomId: 'alicebob' }),
    await call({ 'x-user-id': 'admin', 'x-auth-token': 'old-admin' }, { username: '@bob' }),
    await call(admin, { username: 'bot' }),
    await call(admin, { roomId: 'fed-dm' }),
    await call(authHeaders('alice'), { roomId: 'self-alice' }),
    await call(authHeaders('carol'), { roomId: 'adminalice' }),
    await call(authHeaders('carol'), { roomId: 'general' }),
    await call(authHeaders('bob'), 'roomId=a&username=b', 'application/x-www-form-urlencoded'),
    await call(authHeaders('bob'), '{"roomId":'),
    await call(authHeaders('alice'), { roomId: 'x'.repeat(70_000) }),
    await call(authHeaders('alice'), { roomId: 'nope' }, 'application/json', '10.9.9.9'),
    await call(authHeaders('alice'), { roomId: 'nope' }, 'application/json', '10.9.9.9'),
    await call({ 'x-user-id': 'admin', 'x-auth-token': TOKENS.alice }, { roomId: 'alicebob' }),
    await call({ 'x-user-id': 'nobody', 'x-auth-token': TOKENS.admin }, { roomId: 'alicebob' }),
    await call({ 'x-user-id': TOKENS.admin, 'x-auth-token': 'admin' }, { roomId: 'alicebob' }),
    await call(authHeaders('nameless'), { roomId: 'alicebob' })
  ]
  failing = 'findUserByLoginToken'
  statuses.push(await call(admin, { roomId: 'self-admin' }))
  failing = 'eraseRoom'
  statuses.push(await call(admin, { roomId: 'self-admin' }))
  await app.close()
  t.same(statuses, [200, 200, 200, 400, 400, 400, 400, 400, 400, 413, 400, 429, 401, 401, 401, 401, 500, 500], 'every kind of answer was given')

  const audit = logs.lines.filter((line) => line.msg === 'im.delete: DM erased')
  t.same(audit.map((line) => [line.level, line.imDelete]), [
    [30, { roomId: 'alicebob', userId: 'admin', username: 'admin', removed: { messages: 5, subscriptions: 4, uploads: 3, readReceipts: 3, discussions: 2 } }],
    [30, { roomId: 'adminbob', userId: 'admin', username: 'admin', removed: { messages: 0, subscriptions: 2, uploads: 0, readReceipts: 0, discussions: 0 } }]
  ], 'one info line per erase, with who, what and the counts; none for the DM that did not exist')

  const text = logs.raw.join('')
  // Every login token of the fixture: the current ones and the old- ones each user also holds.
  const secrets = Object.entries(TOKENS).flatMap(([who, token]) => [token, `old-${who}`])
  for (const secret of [...secrets, ...secrets.map(hashLoginToken)]) t.notOk(text.includes(secret), `${secret} is in no log line`)
  t.equal(app.log.level, 'trace', 'at the most talkative level')
})
