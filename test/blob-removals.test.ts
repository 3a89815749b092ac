// Blob removals on a store that records them (PostgreSQL), in one process: a blob storage that
// fails and comes back is retried by the sweeps until each blob is removed; a blob failing past
// the retry period is given up, logged at error level, and forgotten.
import t, { type Test } from 'tap'
import { BODIES, IM_DELETE, build, captureLogs } from './helpers/app.js'
import { within } from './helpers/child.js'
import { ALICEBOB_TREE, authHeaders, fixture } from './helpers/fixture.js'
import { pglite, server } from './helpers/postgres.js'
import type { DurableBlobs, ImDeleteStore } from '../index.js'

t.setTimeout(120_000)
const backend = await server(t) ?? await pglite(t)

/** The plugin on a fresh schema holding the fixture, with `remove` as the file store's; erases alicebob. */
async function erasedWith (t: Test, remove: (id: string) => void): Promise<{ pending: () => Promise<string[]>, schema: string, lines: Array<Record<string, any>> }> {
  const { store, schema, teardown } = await backend.fresh()
  t.teardown(teardown)
  await store.import(fixture())
  const { logger, lines } = captureLogs()
  const { app } = await build({ store, fastify: { logger }, fileStore: { remove: (upload) => { remove(upload._id) } } })
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success, 'the erase stands, whatever the blob storage does')
  const pending = async (): Promise<string[]> => (await store.blobs.pending(100)).map(({ upload }) => upload._id)
  return { pending, schema, lines }
}

/** The store with another `blobs` capability, everything else its own. */
function withBlobs<S extends ImDeleteStore> (store: S, blobs: DurableBlobs): S {
  return new Proxy(store, {
    get (target, key) {
      if (key === 'blobs') return blobs
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

const until = async (done: () => Promise<boolean>): Promise<void> => { while (!await done()) await new Promise((resolve) => setTimeout(resolve, 20)) }

t.test('a blob storage that fails, then answers: the sweeps remove every blob', async (t) => {
  const state = { up: false }
  const removed: string[] = []
  const { pending, lines } = await erasedWith(t, (id) => {
    if (!state.up) throw new Error('blob storage down')
    removed.push(id)
  })
  t.same(await pending(), ALICEBOB_TREE.uploads, 'the failed removals are pending')
  await within(30_000, 'a failing sweep', until(async () => lines.some(({ msg }) => msg === 'im.delete: pending blob removals failed; retried later')))
  state.up = true
  await within(60_000, 'the blobs removed', until(async () => (await pending()).length === 0))
  t.same(removed.sort(), ALICEBOB_TREE.uploads, 'each blob removed once the storage answers')
  t.match(lines.filter(({ level }) => level >= 50).map(({ msg }) => msg), Array(3).fill('im.delete: fileStore.remove failed after the erase'),
    'the failures right after the erase were logged, one per blob')
})

t.test('a blob still failing after the retry period is given up, logged and forgotten', async (t) => {
  const { pending, schema, lines } = await erasedWith(t, () => { throw new Error('blob storage down for good') })
  await backend.query(`UPDATE ${schema}.pending_blobs SET erased_at = now() - interval '25 hours'`)
  await within(60_000, 'given up', until(async () => (await pending()).length === 0))
  const given = lines.filter(({ msg }) => msg === "im.delete: blob removal given up; remove this upload's blob by hand")
  t.same(given.map(({ level, uploadId }) => ({ level, uploadId })).sort((a, b) => a.uploadId < b.uploadId ? -1 : 1),
    ALICEBOB_TREE.uploads.map((uploadId) => ({ level: 50, uploadId })), 'each named at error level, with its upload')
})

t.test('a store failing to list the pending removals: the sweep logs it, and tries again later', async (t) => {
  const { store, teardown } = await backend.fresh()
  t.teardown(teardown)
  let listed = 0
  const blobs = { ...store.blobs, pending: async () => { listed++; throw new Error('connection reset while listing') } }
  const failing = withBlobs(store, blobs)
  const { logger, lines } = captureLogs()
  const { app } = await build({ store: failing, fastify: { logger }, fileStore: { remove: () => {} } })
  t.teardown(async () => { await app.close() })
  const failed = async (): Promise<boolean> => lines.some(({ msg }) => msg === 'im.delete: pending blob removals failed; retried later')
  await within(30_000, 'a failing sweep', until(failed))
  t.match(lines.find(({ msg }) => msg === 'im.delete: pending blob removals failed; retried later'), { level: 50, failed: 1, err: { message: 'connection reset while listing' } },
    'logged once per sweep, with what failed')
  t.ok(listed >= 1, 'the store was asked')
})

t.test('removed blobs that cannot be forgotten: logged, and a sweep removes and forgets them', async (t) => {
  const { store, teardown } = await backend.fresh()
  t.teardown(teardown)
  await store.import(fixture())
  let refusals = 1
  const blobs = {
    pending: store.blobs.pending,
    removed: async (ids: readonly string[]) => {
      if (refusals-- > 0) throw new Error('connection reset while forgetting')
      await store.blobs.removed(ids)
    }
  }
  const forgetful = withBlobs(store, blobs)
  const removed: string[] = []
  const { logger, lines } = captureLogs()
  const { app } = await build({ store: forgetful, fastify: { logger }, fileStore: { remove: (upload) => { removed.push(upload._id) } } })
  t.teardown(async () => { await app.close() })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })
  t.equal(res.body, BODIES.success)
  await within(30_000, 'forgotten', until(async () => (await store.blobs.pending(10)).length === 0))
  t.match(lines.find(({ msg }) => msg === 'im.delete: removed blobs could not be forgotten; a sweep retries'), { level: 50, removed: 3, err: { message: 'connection reset while forgetting' } }, 'logged')
  t.same([...new Set(removed)].sort(), ALICEBOB_TREE.uploads, 'every blob removed (some twice: a removed blob counts as removed)')
})

t.test('two erases whose blobs fail: one sweep retries them all', async (t) => {
  const { store, teardown } = await backend.fresh()
  t.teardown(teardown)
  const dataset = fixture()
  dataset.uploads.push({ _id: 'up-adminbob', rid: 'adminbob' })
  await store.import(dataset)
  const state = { up: false }
  const removed: string[] = []
  const { logger, lines } = captureLogs()
  const { app } = await build({ store, fastify: { logger }, fileStore: { remove: (upload) => { if (!state.up) throw new Error('blob storage down'); removed.push(upload._id) } } })
  t.teardown(async () => { await app.close() })
  for (const roomId of ['alicebob', 'adminbob']) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId } })
    t.equal(res.body, BODIES.success, roomId)
  }
  t.equal(lines.filter(({ msg }) => msg === 'im.delete: fileStore.remove failed after the erase').length, 4, 'each failure logged')
  state.up = true
  await within(30_000, 'every blob removed', until(async () => (await store.blobs.pending(10)).length === 0))
  t.same(removed.sort(), [...ALICEBOB_TREE.uploads, 'up-adminbob'].sort(), 'both erases\' blobs')
})
