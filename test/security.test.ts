import assert from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { ERASE_ORDER } from '../index.js'
import { STORE_METHODS } from '../lib/store.js'
import { BODIES, BreakingMemoryStore, DM_DELETE, IM_DELETE, build, captureLogs, faulty } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'
import { LEAKY_MESSAGES, SEED_NOTE, failure, materialize, runs, type Failure } from './helpers/fuzz.js'

t.comment(SEED_NOTE)

const admin = authHeaders('admin')

/** A step of the request the store can fail at: one of its methods, or a step inside the erase. */
const storeStep = fc.oneof(
  fc.constantFrom(...STORE_METHODS),
  fc.record({ collection: fc.constantFrom(...ERASE_ORDER), when: fc.constantFrom('before' as const, 'after' as const) })
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
    ['null', { kind: 'value', value: null }],
    ['undefined', { kind: 'value', value: undefined }]
  ]
  for (const [name, fault] of cases) {
    // With a real logger: pino's serializer is one of the things a hostile error trips.
    const logs = captureLogs()
    const store = faulty(new BreakingMemoryStore(fixture()), { findRoomById: () => { throw materialize(fault) } })
    const { app } = await build({ store, fastify: { logger: logs.logger } })
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'adminbob' } })
    t.equal(res.statusCode, 500, name)
    t.equal(res.body, BODIES.internal, name)
    t.match(logs.lines.filter((line) => line.level >= 50), [{ msg: 'im.delete: request failed', reqId: String }], `${name}: logged once`)
  }
})

t.test('whatever a failing store throws, at any step: Rocket.Chat\'s 500 and nothing more, data whole, logged, and the server goes on', async (t) => {
  const logs = captureLogs()
  const memory = new BreakingMemoryStore(fixture())
  const pristine = await memory.dump()
  let armed: { method: string, failure: Failure } | null = null
  const store = faulty(memory, Object.fromEntries(STORE_METHODS.map((method) => [method, async (...args: unknown[]) => {
    if (armed?.method === method) throw materialize(armed.failure)
    return await (memory[method] as (...args: unknown[]) => Promise<unknown>).apply(memory, args)
  }])))
  const { app } = await build({ store, fastify: { logger: logs.logger } })
  let cases = 0
  await fc.assert(fc.asyncProperty(storeStep, failure, fc.constantFrom(IM_DELETE, DM_DELETE), async (step, fault, url) => {
    // The username path is the one that looks users and DMs up by name.
    const payload = step === 'findUserByUsername' || step === 'findDirectRoom' ? { username: 'bob' } : { roomId: 'adminbob' }
    if (typeof step === 'string') armed = { method: step, failure: fault }
    else memory.breakAt = { ...step, raise: () => materialize(fault) }
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
      memory.breakAt = null
    }
    const healed = await app.inject({ method: 'POST', url, headers: admin, payload })
    assert.equal(healed.body, BODIES.success, 'the same request succeeds once the store does')
    await memory.import(pristine)
    cases++
  }), runs(400))
  t.equal(cases, runs(400).numRuns, 'every case ran to the end')
})
