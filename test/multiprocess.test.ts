// Two server processes sharing one PostgreSQL schema and one Redis: the rate limit is counted
// once for both, an erase happens exactly once whichever process serves it, and both shut down
// cleanly. Needs both servers (CI fails without them).
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { BODIES, DM_DELETE, IM_DELETE, expectedAfter } from './helpers/app.js'
import { startServer, within, type Child } from './helpers/child.js'
import { fixture } from './helpers/fixture.js'
import { post } from './helpers/http.js'
import { SERVER_URL, server } from './helpers/postgres.js'
import { REDIS_URL, connectRedis } from './helpers/services.js'

// Two processes starting TypeScript on a busy two-core machine: generous bounds, never a timing assertion.
t.setTimeout(240_000)
const SCRIPT = fileURLToPath(new URL('./helpers/server-process.ts', import.meta.url))
const BOUND = 60_000

const start = async (t: Test, env: Record<string, string>): Promise<Child> => await startServer(t, SCRIPT, env, BOUND)

const real = await server(t)
const connection = await connectRedis()

t.test('two server processes on one PostgreSQL schema and one Redis', async (t) => {
  if (connection.redis === null) {
    t.comment(`Several-processes run not done: ${connection.reason}`)
    return
  }
  // server() has said why when it is null.
  if (real === null) return
  const { redis } = connection
  t.teardown(() => { redis.disconnect() })
  const { store, schema, teardown } = await real.fresh()
  t.teardown(teardown)
  await store.import(fixture())
  const nameSpace = `fastify-im-delete-test:${randomUUID()}:`
  t.teardown(async () => {
    const keys = await redis.keys(`${nameSpace}*`)
    if (keys.length > 0) await redis.del(keys)
  })
  const env = { DATABASE_URL: SERVER_URL, SCHEMA: schema, REDIS_URL, NAME_SPACE: nameSpace }
  const children = await Promise.all([start(t, env), start(t, env)])
  t.not(children[0].base, children[1].base, `two processes: ${children.map((child) => child.base).join(' and ')}`)

  await t.test('the rate limit is shared: 10 calls per 60 s per IP and route across both', async (t) => {
    const first = Date.now()
    const answers = []
    // alice holds no api-bypass-rate-limit: every call counts. 'nope' is no room: 400 once counted.
    for (let i = 0; i < 12; i++) answers.push(await post(children[i % 2].base, IM_DELETE, 'alice', { roomId: 'nope' }))
    const last = Date.now()
    t.same(answers.map(({ status }) => status), [400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 429, 429], 'the 11th and 12th calls, on either process, are refused')
    t.same(answers.map(({ headers }) => headers.get('x-ratelimit-limit')), answers.map(() => '10'), 'X-RateLimit-Limit on every answer')
    t.same(answers.map(({ headers }) => headers.get('x-ratelimit-remaining')), ['9', '8', '7', '6', '5', '4', '3', '2', '1', '0', '0', '0'], 'one allowance counted down by both processes')
    for (const { headers } of answers) {
      const reset = Number(headers.get('x-ratelimit-reset'))
      t.ok(reset > first && reset <= last + 60_000, `X-RateLimit-Reset is epoch ms within the window (${reset})`)
    }
    for (const { body } of answers.slice(10)) {
      const seconds = Number(/wait (\d+) seconds/.exec(body)?.[1])
      t.ok(seconds >= 1 && seconds <= 60, `waits ${seconds} s`)
      t.equal(body, BODIES.tooManyRequests(seconds), 'the 429 body')
    }
    const other = await post(children[0].base, DM_DELETE, 'alice', { roomId: 'nope' })
    t.same([other.status, other.headers.get('x-ratelimit-remaining')], [400, '9'], 'dm.delete has an allowance of its own')
    t.same((await redis.keys(`${nameSpace}*`)).sort(), [`${nameSpace}/api/v1/dm.delete|127.0.0.1`, `${nameSpace}/api/v1/im.delete|127.0.0.1`], 'one counter per route and IP, in the shared Redis')
  })

  await t.test('100 concurrent deletes of one DM across both processes: exactly one 200', async (t) => {
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
      await post(children[i % 2].base, i % 4 < 2 ? IM_DELETE : DM_DELETE, 'admin', { roomId: 'alicebob' })))
    const bodies = answers.map(({ status, body }) => `${status} ${body}`)
    t.equal(bodies.filter((answer) => answer === `200 ${BODIES.success}`).length, 1, 'one erase')
    t.same(bodies.filter((answer) => answer !== `200 ${BODIES.success}` &&
      answer !== `400 ${BODIES.invalidRoom}` && answer !== `400 ${BODIES.invalidChannel}`), [], 'every other answer is 400 error-invalid-room or invalid-channel')
    t.same(await store.dump(), await expectedAfter(fixture(), 'alicebob'), 'the DM and all it held are gone, nothing else')
  })

  await t.test('both processes shut down cleanly on SIGTERM', async (t) => {
    for (const child of children) child.process.kill('SIGTERM')
    for (const child of children) {
      t.same(await within(BOUND, 'a server process exiting', child.exited), { code: 0, signal: null }, 'exited by itself, with code 0')
      await t.rejects(fetch(child.base), 'no longer listening')
    }
  })
})
