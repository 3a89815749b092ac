// A Redis outage, for real: a redis-server of this test's own (never the shared one), stopped
// and frozen while requests come in. The counter call is bounded by rateLimit.timeout whatever
// the client does, so each request answers the counter failure (500, or let through with
// skipOnError) while Redis is still away, and counting resumes once it is back.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import imDeletePlugin, { MemoryStore } from '../index.js'
import { BODIES, IM_DELETE } from './helpers/app.js'
import { within } from './helpers/child.js'
import { authHeaders, fixture } from './helpers/fixture.js'
import { freePort } from './helpers/private-postgres.js'

t.setTimeout(120_000)

/** A redis-server on a free port under a temporary directory; start() again after stop() reuses the port. */
async function privateRedis (t: Test): Promise<{ port: number, start: () => Promise<void>, stop: () => Promise<void>, server: () => ChildProcess }> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'im-delete-redis-'))
  let server: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    const running = server
    server = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => { running.once('exit', resolve) })
    running.kill('SIGKILL')
    await exited
  }
  const start = async (): Promise<void> => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    // Refused until the server is up: connect() rejects with it below; without a listener ioredis prints it too.
    probe.on('error', () => {})
    for (let tries = 0; ; tries++) {
      try {
        await probe.connect()
        await probe.ping()
        break
      } catch (err) {
        if (tries === 200) throw err
        await sleep(25)
      }
    }
    probe.disconnect()
  }
  t.teardown(async () => {
    server?.kill('SIGCONT')
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  await start()
  return { port, start, stop, server: () => server as ChildProcess }
}

const redis = await privateRedis(t)

// docs/deployment.md's client: commands fail at once while disconnected instead of queueing.
const failFast = new Redis({ port: redis.port, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000 })
// ioredis's defaults: commands wait in its offline queue and are retried, for many seconds.
const patient = new Redis({ port: redis.port })
for (const client of [failFast, patient]) client.on('error', () => {})
t.teardown(() => { failFast.disconnect(); patient.disconnect() })
// The fail-fast client refuses commands until it is connected.
await Promise.all([failFast, patient].map(async (client) => { if (client.status !== 'ready') await once(client, 'ready') }))

const apps: Array<{ name: string, app: FastifyInstance, skipOnError: boolean }> = []
for (const [clientName, client] of [['fail-fast client', failFast], ['default client', patient]] as const) {
  for (const skipOnError of [false, true]) {
    const app = Fastify()
    await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), rateLimit: { redis: client, skipOnError, nameSpace: `${clientName}:${String(skipOnError)}:` } })
    t.teardown(async () => { await app.close() })
    apps.push({ name: `${clientName}, skipOnError ${String(skipOnError)}`, app, skipOnError })
  }
}

const ask = async (app: FastifyInstance): Promise<{ status: number, body: string, counted: boolean }> => {
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'nope' } })
  return { status: res.statusCode, body: res.body, counted: res.headers['x-ratelimit-remaining'] !== undefined }
}

const counted = { status: 400, body: BODIES.invalidChannel, counted: true }

/** Every app counts again: asked until each answers a counted 400 (ioredis reconnects with its own backoff). */
async function countingAgain (t: Test, since: number): Promise<void> {
  for (const { name, app } of apps) {
    const answer = await within(30_000, `${name} counting again`, (async () => {
      for (;;) {
        const answer = await ask(app)
        if (answer.counted) return answer
        await sleep(50)
      }
    })())
    t.same(answer, counted, `${name}: counted again`)
  }
  t.comment(`every app counting again ${Date.now() - since} ms after Redis came back`)
}

for (const fault of ['stopped', 'frozen (SIGSTOP: connected, never answering)'] as const) {
  t.test(`Redis ${fault}: each request answers the counter failure while Redis is still away`, async (t) => {
    t.same(await Promise.all(apps.map(async ({ app }) => await ask(app))), apps.map(() => counted), 'before: every call counted')
    let away = true
    const outage = new AbortController()
    if (fault === 'stopped') await redis.stop()
    else redis.server().kill('SIGSTOP')
    // The outage lasts 10 s unless the answers come first.
    const over = sleep(10_000, undefined, { signal: outage.signal }).catch(() => {})
    const answers = await Promise.all(apps.map(async ({ app }) => {
      const asked = Date.now()
      const answer = await ask(app)
      return { ...answer, away, took: Date.now() - asked }
    }))
    outage.abort()
    await over
    for (const [i, { name, skipOnError }] of apps.entries()) {
      const { status, body, counted, away } = answers[i]
      t.same({ status, body, counted, away },
        skipOnError
          ? { status: 400, body: BODIES.invalidChannel, counted: false, away: true }
          : { status: 500, body: BODIES.internal, counted: false, away: true },
        `${name}: ${skipOnError ? 'let through uncounted' : 'the spec 500'}, while Redis was away`)
      t.comment(`${name}: answered in ${answers[i].took} ms`)
    }
    away = false
    const back = Date.now()
    if (fault === 'stopped') await redis.start()
    else redis.server().kill('SIGCONT')
    await countingAgain(t, back)
  })
}
