import { once } from 'node:events'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import imDeletePlugin, { MemoryStore } from '../index.js'
import { BODIES, IM_DELETE, captureLogs } from './helpers/app.js'
import { TOKENS, authHeaders, fixture } from './helpers/fixture.js'

const admin = authHeaders('admin')
const TOO_LARGE = BODIES.invalidParams('Request body is too large')
const UNSUPPORTED = BODIES.invalidParams('Unsupported Media Type')

/** A JSON body of exactly `bytes` bytes naming no room, padded with a multi-byte character. */
function jsonOfSize (bytes: number): string {
  const bare = Buffer.byteLength('{"roomId":""}')
  const pad = bytes - bare
  return `{"roomId":"${'é'.repeat(Math.floor(pad / 2))}${'x'.repeat(pad % 2)}"}`
}

t.test('the body limit counts bytes, on our routes only; the host keeps Fastify\'s limit and shapes', async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), bodyLimit: 1024 })
  app.post('/host', async (request) => ({ got: typeof request.body }))
  const json = { ...admin, 'content-type': 'application/json' }
  const form = { ...admin, 'content-type': 'application/x-www-form-urlencoded' }

  const exact = jsonOfSize(1024)
  t.equal(Buffer.byteLength(exact), 1024)
  t.ok(exact.length < 1024, 'fewer characters than bytes')
  t.equal((await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: exact })).body, BODIES.invalidChannel, 'exactly the limit: read')
  const over = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: jsonOfSize(1025) })
  t.equal(over.statusCode, 413, 'one byte more: 413')
  t.equal(over.body, TOO_LARGE)
  const encoded = `roomId=${'%C3%A9'.repeat(169)}xxxx`
  t.equal(Buffer.byteLength(encoded), 1025)
  const formOver = await app.inject({ method: 'POST', url: IM_DELETE, headers: form, payload: encoded })
  t.equal(formOver.statusCode, 413, 'form bodies too; the encoded size counts')
  t.equal(formOver.body, TOO_LARGE)

  const host = await app.inject({ method: 'POST', url: '/host', payload: { big: 'x'.repeat(100_000) } })
  t.same(host.json(), { got: 'object' }, "the host's routes keep Fastify's 1 MiB limit")
  const hostOver = await app.inject({ method: 'POST', url: '/host', payload: { big: 'x'.repeat(1_100_000) } })
  t.equal(hostOver.statusCode, 413)
  t.match(hostOver.json(), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }, "and Fastify's shape")
})

t.test('a body without a content type: 400 in Rocket.Chat\'s shape on our routes, Fastify\'s 415 on the host\'s', async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()) })
  app.post('/host', async () => ({ ok: true }))
  for (const payload of ['roomId=alicebob', '{"roomId":"alicebob"}', 'x']) {
    const ours = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload })
    t.equal(ours.statusCode, 400, payload)
    t.equal(ours.body, UNSUPPORTED, payload)
    const theirs = await app.inject({ method: 'POST', url: '/host', payload })
    t.equal(theirs.statusCode, 415, payload)
    t.match(theirs.json(), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }, payload)
  }
  const empty = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin })
  t.equal(empty.body, BODIES.invalidParams("must have required property 'roomId'\n must have required property 'username'\n must match exactly one schema in oneOf"), 'no body at all reads as {}')
})

// ---------------------------------------------------------------------------------------------
// Real sockets: what inject cannot do (dribble, stop short, hang up mid-body).
// ---------------------------------------------------------------------------------------------

type Step = string | Buffer | { wait: number } | 'end' | 'destroy'

/** Plays steps on a raw TCP connection and resolves with all it got back once the connection is gone. */
async function exchange (port: number, steps: Step[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  socket.on('error', () => {}) // a reset by the server is one of the outcomes under test
  const closed = once(socket, 'close')
  await once(socket, 'connect')
  for (const step of steps) {
    if (socket.destroyed) break
    if (step === 'end') socket.end()
    else if (step === 'destroy') socket.destroy()
    else if (typeof step === 'object' && 'wait' in step) await sleep(step.wait)
    else socket.write(step)
  }
  await closed
  return Buffer.concat(received).toString('latin1')
}

function head (headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: 'localhost', 'x-user-id': 'admin', 'x-auth-token': TOKENS.admin, ...headers }).map(([name, value]) => `${name}: ${value}`)
  return `POST ${IM_DELETE} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`
}

/** Splits a response into status, headers and body. */
function parse (raw: string): { status: number, headers: Record<string, string>, body: string } {
  const [top, ...rest] = raw.split('\r\n\r\n')
  const [statusLine, ...headerLines] = top.split('\r\n')
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
  return { status: Number(statusLine.split(' ')[1]), headers, body: Buffer.from(rest.join('\r\n\r\n'), 'latin1').toString('utf8') }
}

/** Waits for something the server does on its own schedule; the bound only keeps a broken run from hanging. */
async function until (condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 10) {
    if (waited > 10_000) throw new Error(`still waiting for ${what}`)
    await sleep(10)
  }
}

interface Served { app: FastifyInstance, store: MemoryStore, port: number, logs: ReturnType<typeof captureLogs>, errors: unknown[] }

async function serve (): Promise<Served> {
  const logs = captureLogs()
  const dataset = fixture()
  // A DM whose id is multi-byte, so a dribbled body splits characters across packets.
  dataset.rooms.push({ _id: 'dm-ä-😀', t: 'd', uids: ['admin', 'bot'] })
  const store = new MemoryStore(dataset)
  const app = Fastify({ logger: logs.logger })
  await app.register(imDeletePlugin, { store, rateLimit: false })
  // Every error a route meets passes here: the sign that a request got as far as a route.
  const errors: unknown[] = []
  app.addHook('onError', async (_request, _reply, err) => { errors.push(err) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, store, port: (app.server.address() as net.AddressInfo).port, logs, errors }
}

const connections = async (app: FastifyInstance): Promise<number> =>
  await new Promise((resolve, reject) => app.server.getConnections((err, count) => err === null ? resolve(count) : reject(err)))

t.test('slow bodies: a body dribbled byte by byte, characters split across packets, is read whole', async (t) => {
  const { app, store, port } = await serve()
  t.teardown(async () => await app.close())
  const body = Buffer.from(JSON.stringify({ roomId: 'dm-ä-😀' }))
  const dribble = [...body].flatMap((byte) => [Buffer.from([byte]), { wait: 5 }])
  const res = parse(await exchange(port, [head({ 'content-type': 'application/json', 'content-length': body.length, connection: 'close' }), ...dribble]))
  t.equal(res.status, 200)
  t.equal(res.body, BODIES.success)
  t.notOk((await store.dump()).rooms.some((room) => room._id === 'dm-ä-😀'), 'the DM named by the dribbled body is erased')

  const paused = parse(await exchange(port, [head({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': 15, connection: 'close' }), 'roomId=al', { wait: 300 }, 'icebob']))
  t.equal(paused.body, BODIES.success, 'a pause mid-body is only a pause')
})

t.test('bodies that stop short or break: the client hangs up, half-closes or garbles the framing mid-body', async (t) => {
  const { app, store, port, logs, errors } = await serve()
  t.teardown(async () => await app.close())
  const before = await store.dump()
  const json = { 'content-type': 'application/json' }
  // Node's HTTP parser answers a broken stream itself (Fastify's client-error body) before our
  // route could; the route only sees its body end short.
  const NODE_400 = /^HTTP\/1\.1 400 Bad Request\r\n/
  const scenarios: Array<[string, Step[], RegExp | '']> = [
    ['Content-Length larger than what is sent, then the client closes', [head({ ...json, 'content-length': 100 }), '{"roomId":"ali', { wait: 50 }, 'destroy'], ''],
    ['a chunked body that stops mid-chunk, then the client closes', [head({ ...json, 'transfer-encoding': 'chunked' }), '15\r\n{"roomId":"ali', { wait: 50 }, 'destroy'], ''],
    ['headers only, then the client closes', [head({ ...json, 'content-length': 21 }), { wait: 50 }, 'destroy'], ''],
    ['Content-Length larger than what is sent, then the client half-closes', [head({ ...json, 'content-length': 100 }), '{"roomId":"ali', { wait: 50 }, 'end'], NODE_400],
    ['a malformed chunk size mid-body', [head({ ...json, 'transfer-encoding': 'chunked' }), '5\r\n{"roo\r\n', { wait: 50 }, 'zz\r\n'], NODE_400]
  ]
  for (const [name, steps, answer] of scenarios) {
    const seen = errors.length
    const raw = await exchange(port, steps)
    if (answer === '') t.equal(raw, '', `${name}: nobody left to answer`)
    else t.match(raw, answer, `${name}: Node's HTTP layer answers`)
    await until(async () => await connections(app) === 0, 'the server to drop the connection')
    await until(() => errors.length > seen, 'the route to see the body end short')
    t.same(await store.dump(), before, `${name}: nothing changed`)
  }
  t.same(logs.lines.filter((line) => line.level >= 40), [], 'a client that hangs up is no server failure: nothing at warn or error')
  const after = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
  t.equal(after.body, BODIES.success, 'the server goes on')
})

t.test('bodies over the limit on the wire: refused in Rocket.Chat\'s shape, declared or streamed', async (t) => {
  const { app, store, port } = await serve()
  t.teardown(async () => await app.close())
  const before = await store.dump()
  const declared = parse(await exchange(port, [head({ 'content-type': 'application/json', 'content-length': 10_000_000 }), '{"roomId":"']))
  t.equal(declared.status, 413, 'a declared length over the limit is refused before reading')
  t.equal(declared.body, TOO_LARGE)
  t.equal(declared.headers.connection, 'close', 'and the connection closed, the unread body with it')

  const chunk = `${(8192).toString(16)}\r\n${'x'.repeat(8192)}\r\n`
  const streamed = parse(await exchange(port, [head({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' }), '2000\r\n{"roomId":"' + 'x'.repeat(8192 - 11) + '\r\n', ...Array.from({ length: 10 }, () => [chunk, { wait: 5 }]).flat()]))
  t.equal(streamed.status, 413, 'a chunked body is cut off once it passes the limit')
  t.equal(streamed.body, TOO_LARGE)

  const anonymous = parse(await exchange(port, [head({ 'x-auth-token': 'wrong', 'content-type': 'application/json', 'content-length': 10_000_000, connection: 'close' }), 'x'.repeat(1000)]))
  t.equal(anonymous.status, 401, 'without credentials, 401 before any byte of the body is read')
  t.equal(anonymous.body, BODIES.unauthorized)
  t.same(await store.dump(), before)
  await until(async () => await connections(app) === 0, 'every connection to be closed')
})

t.test('headers Node\'s HTTP parser refuses never reach our routes, repeated credentials are wrong ones, and the server goes on', async (t) => {
  const { app, port, errors } = await serve()
  t.teardown(async () => await app.close())
  const requests: Array<[string, string]> = [
    ['a control character in X-User-Id', `POST ${IM_DELETE} HTTP/1.1\r\nhost: x\r\nx-user-id: ad\u0001min\r\nx-auth-token: ${TOKENS.admin}\r\n\r\n`],
    ['a NUL in X-Auth-Token', `POST ${IM_DELETE} HTTP/1.1\r\nhost: x\r\nx-user-id: admin\r\nx-auth-token: a\u0000b\r\n\r\n`],
    ['Content-Length and Transfer-Encoding together', `${head({ 'content-type': 'application/json', 'content-length': 2, 'transfer-encoding': 'chunked' })}2\r\n{}\r\n0\r\n\r\n`],
    ['two different Content-Lengths', `${head({ 'content-type': 'application/json', 'content-length': 2 }).replace('\r\n\r\n', '\r\ncontent-length: 3\r\n\r\n')}{}`]
  ]
  for (const [name, request] of requests) {
    const raw = await exchange(port, [request])
    t.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/, name)
  }
  t.same(errors, [], 'none of them reached a route')
  const latin1 = parse(await exchange(port, [Buffer.from(`POST ${IM_DELETE} HTTP/1.1\r\nhost: x\r\nx-user-id: \u00e4dmin\r\nx-auth-token: ${TOKENS.admin}\r\nconnection: close\r\n\r\n`, 'latin1')]))
  t.equal(latin1.body, BODIES.unauthorized, 'a byte over 0x7f (obs-text) is let through by Node and is just a wrong user id')
  // Node joins a repeated X-User-Id or X-Auth-Token with ", ": no user has such an id, no token such a hash.
  for (const twice of ['x-user-id: admin', `x-auth-token: ${TOKENS.admin}`]) {
    const repeated = parse(await exchange(port, [head({ connection: 'close' }).replace('\r\n\r\n', `\r\n${twice}\r\n\r\n`)]))
    t.equal(repeated.body, BODIES.unauthorized, `${twice.split(':')[0]} sent twice, same value: 401`)
  }
  const after = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: { roomId: 'alicebob' } })
  t.equal(after.body, BODIES.success, 'the server goes on')
})
