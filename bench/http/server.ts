/**
 * The server under test, run by bench/support/child.ts in its own process (never import it).
 * `floor`: a bare Fastify route that parses the same JSON body and answers `{"success":true}`.
 * `plugin`: the plugin on a memory store seeded with the benchmark DMs, rate limiting off.
 * `plugin-noop-store`: the plugin on a store that answers from constants, rate limiting off.
 * `plugin-minimal-store`: the plugin on bench/http/minimal-store.ts seeded with the same DMs.
 */
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import Fastify from 'fastify'
import imDeletePlugin, { MemoryStore, hashLoginToken, type ImDeleteStore } from '../../index.js'
import type { FromChild, ServerConfig, ToChild } from '../support/child.js'
import { processSample } from '../support/sample.js'
import { ADMIN, httpDataset } from './dataset.js'
import { MinimalStore } from './minimal-store.js'

/**
 * A store that does no storage work: the admin (for the right token), one DM and its
 * subscription whatever the id, an erase that removes nothing. Answers are constants the
 * plugin only reads.
 */
function noopStore (): ImDeleteStore {
  const user = { _id: ADMIN._id, username: ADMIN.username, roles: ['admin', 'user'] }
  const hashed = hashLoginToken(ADMIN.token)
  const room = { _id: 'noop', t: 'd', uids: [ADMIN._id, 'u0'], usernames: [ADMIN.username, 'user0'] }
  const subscription = { _id: 'noop-s0', rid: room._id, t: 'd', u: { _id: ADMIN._id, username: ADMIN.username } }
  const erased = { rooms: [room], uploads: [], subscriptions: [], removed: { messages: 0, subscriptions: 0, uploads: 0, readReceipts: 0, discussions: 0 } }
  return {
    findUserByLoginToken: async (userId, hashedToken) => userId === user._id && hashedToken === hashed ? user : null,
    findUser: async () => null,
    findRoomById: async () => room,
    findDirectRoom: async () => null,
    findSubscription: async () => subscription,
    findNamed: async () => ({ user: null, room, subscription }),
    eraseRoom: async () => erased
  }
}

const config = JSON.parse(process.argv[2] ?? '') as ServerConfig
const send = (message: FromChild): void => { process.send?.(message) }
// The benchmark never leaves a server behind: it goes when the parent does.
process.on('disconnect', () => process.exit(0))

function gc (): void {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error('bench server: run with --expose-gc')
  collect()
  collect()
}

gc()
// The heap before any DM is seeded: what the memory run compares the erased dataset's share with.
const unseeded = process.memoryUsage()
const started = performance.now()
let usersHeapUsed = unseeded.heapUsed
// Logging off in both modes: a benchmark of the route, not of the log sink.
const app = Fastify({ logger: false })

if (config.mode === 'floor') {
  const SUCCESS = JSON.stringify({ success: true })
  app.post('/api/v1/im.delete', async (_request, reply) => reply.type('application/json; charset=utf-8').send(SUCCESS))
} else if (config.mode === 'plugin-noop-store') {
  await app.register(imDeletePlugin, { store: noopStore(), rateLimit: false })
} else if (config.mode === 'plugin-minimal-store') {
  const store = new MinimalStore()
  // In slices, as below; users first, as rooms are loaded without them.
  for (let start = 0; start === 0 || start < config.dms; start += 10_000) store.load(httpDataset(Math.min(10_000, config.dms - start), config.messages, start))
  await app.register(imDeletePlugin, { store, rateLimit: false })
} else {
  const store = new MemoryStore()
  // In slices, so that the dataset and its copy in the store never both sit in memory whole;
  // the first slice, even of no DMs, holds the admin every authenticated request comes from.
  const SLICE = 10_000
  const slices = function * (): Generator<ReturnType<typeof httpDataset>> {
    for (let start = 0; start === 0 || start < config.dms; start += SLICE) yield httpDataset(Math.min(SLICE, config.dms - start), config.messages, start)
  }
  // Users first: an erase leaves them, so the memory run needs the heap they take alone.
  for (const slice of slices()) await store.import({ users: slice.users })
  gc()
  usersHeapUsed = process.memoryUsage().heapUsed
  for (const { users: _users, ...slice } of slices()) await store.import(slice)
  await app.register(imDeletePlugin, { store, rateLimit: false })
}

const seedMs = performance.now() - started
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('bench server: no TCP address')

const profiler = new Session()

process.on('message', async (message: ToChild) => {
  if (message.type === 'close') {
    await app.close()
    process.disconnect()
    return
  }
  if (message.type === 'profile') {
    if (message.action === 'start') {
      profiler.connect()
      await profiler.post('Profiler.enable')
      await profiler.post('Profiler.start')
    } else {
      const { profile } = await profiler.post('Profiler.stop')
      profiler.disconnect()
      await writeFile(message.file as string, JSON.stringify(profile))
    }
    send({ type: 'profile', id: message.id })
    return
  }
  if (message.gc) gc()
  send({ type: 'sample', id: message.id, ...processSample() })
})

send({ type: 'ready', port: address.port, seedMs, unseededHeapUsed: unseeded.heapUsed, unseededRss: unseeded.rss, usersHeapUsed })
