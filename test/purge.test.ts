// A DM bigger than the purge's batch size, through the plugin: the answer comes once the DM is
// hidden; its content is purged behind it, in steps, to the last row and the last blob, at most
// `blobConcurrency` blob removals at once; the hooks and the audit lines say what went and when.
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import imDeletePlugin, { MemoryStore, type AfterEraseContext, type AfterPurgeContext, type Dataset, type ImDeleteStore, type PurgeStep, type Upload } from '../index.js'
import { BODIES, IM_DELETE, build, captureLogs } from './helpers/app.js'
import { within } from './helpers/child.js'
import { ALICEBOB_TREE, authHeaders, fixture } from './helpers/fixture.js'
import { pglite, server, type Backend } from './helpers/postgres.js'
import Fastify from 'fastify'
import type { PGliteLike, Sql } from '../lib/stores/postgres/driver.js'

t.setTimeout(120_000)

/** The fixture with `extra` more messages, read receipts and uploads in the DM alicebob and its nested discussion. */
function bigDataset (extra: number): Dataset {
  const dataset = fixture()
  for (let i = 0; i < extra; i++) {
    const rid = i % 2 === 0 ? 'alicebob' : 'disc-1-1'
    dataset.messages?.push({ _id: `big-m-${i}`, rid, msg: `message ${i}`, u: { _id: 'alice', username: 'alice' } })
    dataset.readReceipts?.push({ _id: `big-rr-${i}`, rid, messageId: `big-m-${i}`, userId: 'bob' })
    dataset.uploads?.push({ _id: `big-up-${i}`, rid, name: `file-${i}` })
  }
  return dataset
}

const EXTRA = 30
/** What the erase of alicebob removes from the big dataset. */
const BIG_REMOVED = {
  messages: ALICEBOB_TREE.messages.length + EXTRA,
  subscriptions: ALICEBOB_TREE.subscriptions.length,
  uploads: ALICEBOB_TREE.uploads.length + EXTRA,
  readReceipts: ALICEBOB_TREE.readReceipts.length + EXTRA,
  discussions: ALICEBOB_TREE.rooms.length - 1
}

const until = async (done: () => boolean | Promise<boolean>): Promise<void> => { while (!await done()) await sleep(10) }

/** A file store that records each removal and how many ran at once at most. */
function countingFileStore (delay = 2): { remove: (upload: Upload) => Promise<void>, removed: string[], peak: () => number } {
  let inFlight = 0
  let peak = 0
  const removed: string[] = []
  return {
    removed,
    peak: () => peak,
    async remove (upload) {
      peak = Math.max(peak, ++inFlight)
      await sleep(delay)
      removed.push(upload._id)
      inFlight--
    }
  }
}

const bigUploads = (): string[] => [...ALICEBOB_TREE.uploads, ...Array.from({ length: EXTRA }, (_, i) => `big-up-${i}`)].sort()

async function purgeThrough (t: Test, store: ImDeleteStore & { dump: () => Promise<any> }): Promise<void> {
  const { logger, lines } = captureLogs()
  const files = countingFileStore()
  const erased: AfterEraseContext[] = []
  const purged: AfterPurgeContext[] = []
  const { app } = await build({
    store,
    fastify: { logger },
    fileStore: files,
    purge: { batchSize: 4, blobConcurrency: 3 },
    permissions: { 'delete-d': ['admin', 'user'] },
    onAfterErase: (context) => { erased.push(context) },
    onAfterPurge: (context) => { purged.push(context) }
  })
  t.teardown(async () => { await app.close() })

  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, BODIES.success, 'answered once the DM is hidden')
  const again = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(again.body, BODIES.invalidChannel, 'a second erase is refused at once: the DM is gone for every reader')
  const byName = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { username: 'bob' } })
  t.equal(byName.body, BODIES.success, 'by username, the DM is not found either (Rocket.Chat would create it to erase it: nothing changes)')
  const other = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'adminbob' } })
  t.equal(other.body, BODIES.success, 'another DM erases meanwhile')

  await within(60_000, 'the purge', until(() => purged.length === 1))
  t.same(purged, [{ roomId: 'alicebob', removed: BIG_REMOVED }], 'onAfterPurge: once, with what the whole erase removed')
  await within(10_000, 'the after-erase hooks', until(() => erased.length === 2))
  const hidden = erased.find((context) => context.room._id === 'alicebob')
  t.same(hidden && { purging: hidden.purging, removed: hidden.removed, rooms: hidden.rooms.map((room) => room._id), subscriptions: hidden.subscriptions.map((sub) => sub._id).sort() }, {
    purging: true,
    removed: { messages: 0, uploads: 0, readReceipts: 0, subscriptions: ALICEBOB_TREE.subscriptions.length, discussions: ALICEBOB_TREE.rooms.length - 1 },
    rooms: ALICEBOB_TREE.rooms,
    subscriptions: [...ALICEBOB_TREE.subscriptions].sort()
  }, 'onAfterErase: purging, the rooms and the subscriptions (whom to tell), the counts of what went so far')
  t.equal(erased.find((context) => context.room._id === 'adminbob')?.purging, false, 'a small DM: erased whole, not purging')

  const dump = await store.dump()
  const tree = new Set(ALICEBOB_TREE.rooms)
  t.same(['rooms', 'subscriptions', 'messages', 'uploads', 'readReceipts'].flatMap((name) =>
    dump[name].filter((doc: { _id: string, rid?: string }) => tree.has(doc.rid ?? doc._id)).map((doc: { _id: string }) => doc._id)), [], 'no row of the tree is left')
  await within(10_000, 'the blobs', until(() => files.removed.length === EXTRA + ALICEBOB_TREE.uploads.length))
  t.same([...files.removed].sort(), bigUploads(), 'every blob removed, once')
  t.ok(files.peak() <= 3, `at most blobConcurrency (3) removals at once (${files.peak()})`)
  const audit = lines.filter(({ imDelete }) => imDelete?.roomId === 'alicebob').map(({ msg, imDelete }) => ({ msg, purging: imDelete.purging, removed: imDelete.removed }))
  t.same(audit, [
    { msg: 'im.delete: DM hidden; its content is purged behind the answer', purging: true, removed: hidden?.removed },
    { msg: 'im.delete: DM purged', purging: undefined, removed: BIG_REMOVED }
  ], 'two audit lines: hidden at the answer, purged with the whole counts')
}

t.test('MemoryStore: a DM bigger than the batch size is hidden at the answer and purged behind it', async (t) => {
  await purgeThrough(t, new MemoryStore(bigDataset(EXTRA)))
})

const backends: Array<(t: Test) => Promise<Backend | null>> = [pglite, server]
for (const backend of backends) {
  t.test(`PostgresStore (${backend.name}): the same, blob removals recorded until done`, async (t) => {
    const db = await backend(t)
    if (db === null) return
    const { store, teardown } = await db.fresh()
    t.teardown(teardown)
    await store.import(bigDataset(EXTRA))
    await purgeThrough(t, store)
    await within(10_000, 'the pending blob removals forgotten', until(async () => (await store.blobs.pending(10)).length === 0))
    t.pass('no blob removal is left pending')
  })
}

t.test('a small DM with many uploads: at most blobConcurrency removals at once', async (t) => {
  const files = countingFileStore()
  const { app } = await build({ dataset: bigDataset(EXTRA), fileStore: files, purge: { blobConcurrency: 2 }, permissions: { 'delete-d': ['user'] } })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await app.close()
  t.same([...files.removed].sort(), bigUploads(), 'every blob removed by the time the app has closed')
  t.equal(files.peak(), 2, 'two at once, no more')
})

/** A store whose purge steps are recorded, and fail while `failing` says so. */
function steppedStore (dataset: Dataset, failing: { count: number }): { store: MemoryStore, steps: PurgeStep[] } {
  const store = new MemoryStore(dataset)
  const steps: PurgeStep[] = []
  const inner = store.purge
  Object.defineProperty(store, 'purge', {
    value: {
      async step (options: { batchSize: number }) {
        if (failing.count > 0) {
          failing.count--
          throw new Error('database away')
        }
        const step = await inner.step(options)
        if (step !== null) steps.push(step)
        return step
      }
    }
  })
  return { store, steps }
}

t.test('a failing step is logged and retried; the purge then finishes', async (t) => {
  const failing = { count: 0 }
  const { store, steps } = steppedStore(bigDataset(EXTRA), failing)
  const { logger, lines } = captureLogs()
  const purged: AfterPurgeContext[] = []
  const { app } = await build({ store, fastify: { logger }, purge: { batchSize: 10, pause: 1 }, permissions: { 'delete-d': ['user'] }, onAfterPurge: (context) => { purged.push(context) } })
  t.teardown(async () => { await app.close() })
  failing.count = 2
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await within(30_000, 'the purge', until(() => purged.length === 1))
  const failures = lines.filter(({ msg }) => msg === 'im.delete: a purge step failed; retried later')
  t.same(failures.map(({ level, retryIn }) => ({ level, retryIn })), [{ level: 50, retryIn: 1000 }, { level: 50, retryIn: 2000 }], 'each failure logged, the wait doubling')
  t.same(purged[0].removed, BIG_REMOVED, 'then the purge finished')
  t.ok(steps.length >= 4, `in steps of 10 rows of each kind (${steps.length})`)
})

t.test('a purge another process left is taken up: at start, and while idle, on the next look', async (t) => {
  const db = await pglite(t)
  const { store, schema, teardown } = await db.fresh()
  t.teardown(teardown)
  await store.import(bigDataset(EXTRA))
  // As if a process hid it and died before stepping.
  t.equal((await store.eraseRoom('alicebob', { batchSize: 1 }))?.purging, true, 'a purge is pending')
  const purged: AfterPurgeContext[] = []
  const app = Fastify()
  await app.register(imDeletePlugin, { store, rateLimit: false, purge: { poll: 20 }, onAfterPurge: (context) => { purged.push(context) } })
  t.teardown(async () => { await app.close() })
  await app.ready()
  await within(30_000, 'the purge left at start', until(() => purged.length === 1))
  t.same(purged[0], { roomId: 'alicebob', removed: BIG_REMOVED }, 'finished once the server was ready')
  // Another process (another store on the same schema) hides one while this one is idle.
  const { PostgresStore } = await import('../postgres.js')
  const elsewhere = new PostgresStore({ ...db.options, schema })
  t.equal((await elsewhere.eraseRoom('general', { batchSize: 1 }))?.purging, true, 'another purge is pending')
  await within(30_000, 'the purge left while idle', until(() => purged.length === 2))
  t.equal(purged[1].roomId, 'general', 'taken up on a later look')
})

t.test('erases while a purge runs: each purge finishes, the runner stops with the app', async (t) => {
  const dataset = bigDataset(EXTRA)
  dataset.messages?.push(...Array.from({ length: 20 }, (_, i) => ({ _id: `grp-${i}`, rid: 'group-dm', msg: 'x' })))
  const purged: AfterPurgeContext[] = []
  const { app } = await build({
    dataset,
    purge: { batchSize: 2, pause: 2 },
    hasPermission: async () => true,
    onAfterPurge: async (context) => { purged.push(context) }
  })
  for (const roomId of ['alicebob', 'group-dm']) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId } })
    t.equal(res.body, BODIES.success, roomId)
  }
  await within(30_000, 'both purges', until(() => purged.length === 2))
  t.same(purged.map(({ roomId }) => roomId).sort(), ['alicebob', 'group-dm'], 'both finished')
  await app.close()
})

t.test('closing the app stops the purge after its step in progress; a new server finishes it', async (t) => {
  const store = new MemoryStore(bigDataset(EXTRA))
  const first = await build({ store, purge: { batchSize: 1, pause: 5 }, permissions: { 'delete-d': ['user'] } })
  const res = await first.app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await first.app.close()
  const left = (await store.dump()).messages.filter(({ rid }) => ALICEBOB_TREE.rooms.includes(rid)).length
  t.ok(left > 0, `rows left when the app closed (${left})`)
  const purged: AfterPurgeContext[] = []
  const second = await build({ store, purge: { batchSize: 100 }, onAfterPurge: (context) => { purged.push(context) } })
  t.teardown(async () => { await second.app.close() })
  await within(30_000, 'the purge', until(() => purged.length === 1))
  t.same(purged[0].removed, BIG_REMOVED, 'the second server finished it, with the whole counts')
})

t.test('purge options are checked at register time', async (t) => {
  const cases: Array<[unknown, string]> = [
    [null, "fastify-im-delete: option 'purge' must be an object"],
    [{ batchSize: 0 }, "fastify-im-delete: option 'purge.batchSize' must be a positive integer (rows)"],
    [{ pause: -1 }, "fastify-im-delete: option 'purge.pause' must be a whole number of milliseconds"],
    [{ blobConcurrency: 1.5 }, "fastify-im-delete: option 'purge.blobConcurrency' must be a positive integer"],
    [{ poll: 0 }, "fastify-im-delete: option 'purge.poll' must be a positive integer (milliseconds)"]
  ]
  for (const [purge, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(imDeletePlugin, { store: new MemoryStore(), purge } as any) }, { code: 'FST_IM_DELETE_INVALID_OPTION', message }, JSON.stringify(purge))
    await app.close().catch(() => {})
  }
})

t.test('a purge setting left undefined keeps its default', async (t) => {
  const erased: AfterEraseContext[] = []
  const { app } = await build({
    dataset: bigDataset(EXTRA),
    purge: { batchSize: undefined, pause: undefined, blobConcurrency: undefined, poll: undefined },
    permissions: { 'delete-d': ['user'] },
    onAfterErase: (context) => { erased.push(context) }
  })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  await app.close()
  t.equal(res.body, BODIES.success)
  t.equal(erased[0]?.purging, false, `registered, and a DM of ${EXTRA + ALICEBOB_TREE.messages.length} messages is below the default batch size: erased whole`)
})

t.test('PostgresStore: blob removals behind a fast purge wait in the store, and a sweep finishes them', async (t) => {
  const db = await pglite(t)
  const { store, teardown } = await db.fresh()
  t.teardown(teardown)
  await store.import(bigDataset(EXTRA))
  // A slow blob storage and steps of 2: far more uploads removed than may wait in memory (4).
  const files = countingFileStore(20)
  const purged: AfterPurgeContext[] = []
  const { app } = await build({ store, fileStore: files, purge: { batchSize: 2, blobConcurrency: 2 }, permissions: { 'delete-d': ['user'] }, onAfterPurge: (context) => { purged.push(context) } })
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await within(60_000, 'the purge', until(() => purged.length === 1))
  t.ok(files.removed.length < EXTRA, `the purge finished before its blobs (${files.removed.length} removed by then)`)
  await within(60_000, 'every blob', until(async () => (await store.blobs.pending(10)).length === 0))
  t.same([...new Set(files.removed)].sort(), bigUploads(), 'every blob removed in the end')
  t.ok(files.peak() <= 2, `at most two at once (${files.peak()})`)
})

t.test('PostgresStore: a discussion started in a DM being purged is purged with it', async (t) => {
  const db = await pglite(t)
  const { store, schema, teardown } = await db.fresh()
  t.teardown(teardown)
  await store.import(bigDataset(EXTRA))
  t.equal((await store.eraseRoom('alicebob', { batchSize: 4 }))?.purging, true, 'hidden')
  // As a chat server would, into the hidden DM: a discussion with a member and a message.
  await db.query(`INSERT INTO ${schema}.rooms (_id, t, prid, doc) VALUES ('late-disc', 'p', 'disc-1', '{"_id": "late-disc", "t": "p", "prid": "disc-1"}')`)
  await db.query(`INSERT INTO ${schema}.subscriptions (_id, rid, user_id, doc) VALUES ('late-sub', 'late-disc', 'bob', '{"_id": "late-sub", "rid": "late-disc", "u": {"_id": "bob"}}')`)
  await db.query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ('late-m', 'late-disc', '{"_id": "late-m", "rid": "late-disc"}')`)
  let finished = null
  for (let step = 0; finished === null && step < 100; step++) finished = (await store.purge.step({ batchSize: 4 }))?.finished ?? null
  t.same(finished, { ...BIG_REMOVED, messages: BIG_REMOVED.messages + 1, subscriptions: BIG_REMOVED.subscriptions + 1, discussions: BIG_REMOVED.discussions + 1 },
    'the whole erase counted, the late discussion, its member and its message included')
  const { rows } = await db.query(`SELECT (SELECT count(*) FROM ${schema}.rooms WHERE _id IN ('alicebob', 'disc-1', 'disc-1-1', 'late-disc'))::int AS rooms,
    (SELECT count(*) FROM ${schema}.messages WHERE rid = 'late-disc')::int AS messages, (SELECT count(*) FROM ${schema}.purges)::int AS purges`)
  t.same(rows[0], { rooms: 0, messages: 0, purges: 0 }, 'nothing of it is left')
})

t.test('PostgresStore: a row committed between a purge\'s last batch and its lock is purged by the next step', async (t) => {
  const db = await pglite(t)
  const { schema, teardown } = await db.fresh()
  t.teardown(teardown)
  const inner = (db.options as { pglite: PGliteLike }).pglite
  let written = false
  // As if a writer committed right then: the message goes in just before the step locks the rooms.
  const writing = (sql: Sql): Sql => ({
    async query (text, params) {
      if (!written && /^\s*WITH RECURSIVE tree \(_id\) AS \(\s*SELECT _id FROM \S+ WHERE _id = ANY/.test(text)) {
        written = true
        await sql.query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ('late-m', 'alicebob', '{"_id": "late-m", "rid": "alicebob"}')`)
      }
      return await sql.query(text, params)
    }
  })
  const { PostgresStore } = await import('../postgres.js')
  const store = new PostgresStore({ schema, pglite: { query: async (text, params) => await inner.query(text, params), transaction: async (work) => await inner.transaction(async (tx) => await work(writing(tx))) } })
  await store.import(bigDataset(EXTRA))
  t.equal((await store.eraseRoom('alicebob', { batchSize: 100 }))?.purging === true, false, 'erased whole below the batch size')
  await store.import(bigDataset(EXTRA))
  t.equal((await store.eraseRoom('alicebob', { batchSize: 4 }))?.purging, true, 'hidden above it')
  const steps: PurgeStep[] = []
  for (let step = 0; steps.at(-1)?.finished == null && step < 100; step++) steps.push(await store.purge.step({ batchSize: EXTRA }) as PurgeStep)
  t.ok(written, 'the late message was written after the last full batch')
  t.same(steps.map(({ finished }) => finished !== null), [false, false, true], 'the step that found it left did not finish; the next did')
  t.same(steps.at(-1)?.finished?.messages, BIG_REMOVED.messages + 1, 'and counted it')
})

// Rocket.Chat's DM id is its members' ids: a DM re-created right after its erase has the same id.
for (const kind of ['MemoryStore', 'PostgresStore']) {
  t.test(`${kind}: the id of a DM being purged stays taken until the purge ends; an import that would reuse it is refused whole`, async (t) => {
    let store: MemoryStore | import('../postgres.js').PostgresStore
    if (kind === 'MemoryStore') {
      store = new MemoryStore(bigDataset(EXTRA))
    } else {
      const fresh = await (await pglite(t)).fresh()
      t.teardown(fresh.teardown)
      store = fresh.store
      await store.import(bigDataset(EXTRA))
    }
    t.equal((await store.eraseRoom('alicebob', { batchSize: 4 }))?.purging, true, 'hidden')
    const dm = { _id: 'alicebob', t: 'd', uids: ['alice', 'bob'], usernames: ['alice', 'bob'] }
    const refused = `${kind}: room 'alicebob' is being purged (its erase finishes behind its answer): its id is taken, and nothing can be written into it, until the purge has ended; nothing was imported`
    await t.rejects(store.import({ rooms: [dm], messages: [{ _id: 'again-1', rid: 'alicebob', msg: 'hello again' }] }), { message: refused }, 'the DM re-created')
    await t.rejects(store.import({ messages: [{ _id: 'again-2', rid: 'alicebob' }] }), { message: refused, code: 'FST_IM_DELETE_ROOM_PURGING' }, 'a message into it')
    await t.rejects(store.import({ users: [{ _id: 'zed', username: 'zed' }], rooms: [{ _id: 'again-disc', t: 'p', prid: 'alicebob' }] }), { message: refused }, 'a discussion of it')
    t.equal(await store.findUser('zed'), null, 'nothing of a refused import was written')
    for (let step = 0; step < 100; step++) if ((await store.purge.step({ batchSize: 4 }))?.finished != null) break
    await store.import({ rooms: [dm], messages: [{ _id: 'again-1', rid: 'alicebob', msg: 'hello again' }] })
    t.same((await store.dump()).messages.filter(({ rid }) => rid === 'alicebob').map(({ _id }) => _id), ['again-1'], 'once purged, the DM is re-created with what it is given, and keeps it')
    t.equal((await store.findRoomById('alicebob'))?._id, 'alicebob', 'and is found')
  })
}
