// No log line carries a statement's parameters or a token, whatever a driver attaches to its
// errors: PGlite the statement and its parameters (`params`), PostgreSQL a `detail` quoting key
// values. A store fails on each driver under authenticated requests; every line is scanned.
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import imDeletePlugin, { hashLoginToken, type Dataset } from '../index.js'
import { loggedError } from '../lib/log.js'
import { BODIES, IM_DELETE, captureLogs } from './helpers/app.js'
import { pglite, server, type Backend } from './helpers/postgres.js'

const TOKEN = 'tok-3e8f1c9a-login-secret'
const CALLER = 'user-7f3a9c1e-caller'
const OTHER = 'user-5b2d8e4f-other'
const ROOM = 'room-9c4e1a7b-dm'

/** What the failing statements are given (the caller's id, the token's hash, the room's id) and the token itself. */
const SECRETS = [TOKEN, hashLoginToken(TOKEN), CALLER, ROOM]

const dataset: Dataset = {
  users: [
    { _id: CALLER, username: 'caller', roles: ['admin'], services: { resume: { loginTokens: [{ hashedToken: hashLoginToken(TOKEN) }] } } },
    { _id: OTHER, username: 'other', roles: ['user'] }
  ],
  rooms: [{ _id: ROOM, t: 'd', uids: [CALLER, OTHER], usernames: ['caller', 'other'] }],
  subscriptions: [CALLER, OTHER].map((uid, i) => ({ _id: `sub-${i}`, rid: ROOM, u: { _id: uid, username: uid === CALLER ? 'caller' : 'other' }, t: 'd' }))
}

async function failingStore (t: Test, backend: Backend): Promise<void> {
  const { store, schema, teardown } = await backend.fresh()
  t.teardown(teardown)
  await store.import(dataset)
  const logs = captureLogs('trace')
  const app = Fastify({ logger: logs.logger })
  await app.register(imDeletePlugin, { store, rateLimit: false })
  t.teardown(async () => { await app.close() })
  const erase = async (): Promise<string> =>
    (await app.inject({ method: 'POST', url: IM_DELETE, headers: { 'x-user-id': CALLER, 'x-auth-token': TOKEN }, payload: { roomId: ROOM } })).body

  // The token lookup meets a missing table: on PGlite its error carries the caller's id and hashed token.
  await backend.query(`ALTER TABLE ${schema}.login_tokens RENAME TO login_tokens_away`)
  t.equal(await erase(), BODIES.internal, 'the lookup failed')
  await backend.query(`ALTER TABLE ${schema}.login_tokens_away RENAME TO login_tokens`)
  // A table of the host's refers to the room: the erase's delete fails, its detail naming the room's key.
  await backend.query(`CREATE TABLE ${schema}.watchers (room_id text REFERENCES ${schema}.rooms (_id))`)
  await backend.query(`INSERT INTO ${schema}.watchers VALUES ($1)`, [ROOM])
  t.equal(await erase(), BODIES.internal, 'the erase failed')

  const failures = logs.lines.filter((line) => line.level >= 50)
  t.match(failures, [
    { msg: 'im.delete: request failed', reqId: String, err: { type: String, message: /login_tokens/, code: '42P01', stack: String } },
    { msg: 'im.delete: request failed', reqId: String, err: { type: String, message: /foreign key/, code: '23503', stack: String } }
  ], 'each failure logged with its type, message, code and stack')
  t.same(failures.map(({ err }) => Object.keys(err).sort()), failures.map(() => ['code', 'message', 'stack', 'type']), 'and nothing else of the error')
  const text = logs.raw.join('')
  for (const secret of SECRETS) t.notOk(text.includes(secret), `${secret} is in no log line`)
}

t.test('PGlite: a failing store logs none of its statements\' parameters', async (t) => {
  await failingStore(t, await pglite(t))
})

t.test('PostgreSQL server (pg): a failing store logs none of its statements\' parameters', async (t) => {
  const real = await server(t)
  if (real !== null) await failingStore(t, real)
})

t.test('a thrown value is logged as its type, message, code, stack and causes, nothing else', async (t) => {
  // Fastify's logger: pino, with its error serializer.
  const logs = captureLogs()
  const { log } = Fastify({ logger: logs.logger })
  const logged = (thrown: unknown): unknown => {
    log.error({ err: loggedError(thrown) }, 'failed')
    return logs.lines.at(-1)?.err
  }
  const driverError = Object.assign(new Error('lookup failed'), { code: '23505', params: ['p-secret'], detail: 'Key (_id)=(k-secret)', query: 'q-secret' })
  t.same(logged(driverError), { type: 'Error', message: 'lookup failed', code: '23505', stack: driverError.stack })
  const mongoError = Object.assign(new TypeError('bad'), { code: 11000 })
  t.same(logged(mongoError), { type: 'TypeError', message: 'bad', code: 11000, stack: mongoError.stack }, 'a numeric code')
  t.match(logged(Object.assign(new Error('bad'), { code: { leak: 'c-secret' } })), { code: undefined }, 'a code that is neither string nor number is left out')

  const wrapped = new Error('erase failed', { cause: driverError })
  const line = logged(wrapped) as { message: string, stack: string }
  t.equal(line.message, 'erase failed: lookup failed', 'causes as pino shows them: messages joined')
  t.match(line.stack, /^Error: erase failed[^]*caused by: Error: lookup failed/, 'and stacks')
  const circular: Error & { cause?: unknown } = new Error('again')
  circular.cause = circular
  t.equal((logged(circular) as { message: string }).message, 'again: again: again: again', 'a cycle of causes stops three deep')

  t.same([null, undefined, 'p-secret', 42].map(logged), [{ type: 'null' }, { type: 'undefined' }, { type: 'String' }, { type: 'Number' }],
    'a value that is no error: its type only')
  const hostile = new Error('m')
  Object.defineProperty(hostile, 'constructor', { get () { throw new Error('no') } })
  t.match(logged(hostile), { type: 'object', message: 'm' }, 'a property that throws when read is left out')

  t.notOk(logs.raw.join('').includes('secret'), 'no parameter, detail or statement in any line')
})
