// The kit's runners and reports: node:test as well as tap, cases that do not apply named, and
// a store's or a harness's misbehaviour reported as a failure of the case, in the store's terms.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { CASES, type KitTarget } from '../lib/test-kit/index.js'
import type { Dataset, ImDeleteStore } from '../index.js'
import { FaultyMemoryStore } from './helpers/app.js'
import { collect, documentTarget } from './helpers/kit-targets.js'
import { ForgetsDiscussionsMemory } from './helpers/mutants.js'
import { showsExample } from './helpers/shown.js'

const run = promisify(execFile)
// Child processes that start PGlite and run the whole kit, on a busy two-core machine.
t.setTimeout(300_000)
const CASES_COUNT = Object.keys(CASES).length

const NO_FIND_NAMED = 'the store has no findNamed (optional: the plugin calls findUser, findRoomById and findSubscription instead)'

/** MemoryStore's required methods only: no token lookup, no findNamed. */
function withoutTokens (store: FaultyMemoryStore): ImDeleteStore {
  return {
    findUser: async (idOrUsername) => await store.findUser(idOrUsername),
    findRoomById: async (roomId) => await store.findRoomById(roomId),
    findDirectRoom: async (uids) => await store.findDirectRoom(uids),
    findSubscription: async (roomId, userId) => await store.findSubscription(roomId, userId),
    eraseRoom: async (roomId) => await store.eraseRoom(roomId)
  }
}

const NO_PURGE = 'the store has no purge (optional: every erase is then whole, in one transaction)'
const NOT_DOCUMENTS = 'not a document store (supports.documents)'

t.test('cases a store does not support are reported by name, and the world it loads leaves them out', async (t) => {
  const loaded: Dataset[] = []
  const { failures, skipped, report } = await collect({
    name: 'no tokens, no livechat',
    create: async () => {
      const inner = new FaultyMemoryStore()
      const target = documentTarget(inner)
      return { ...target, store: withoutTokens(inner), load: async (world) => { loaded.push(world); await target.load(world) } }
    },
    supports: { roomTypes: ['d', 'c', 'p'] }
  })
  t.same(failures, [], 'everything else passes')
  t.same(report.notApplicable, [
    { title: CASES.loginToken, reason: 'the store has no findUserByLoginToken (supports.loginTokens)' },
    { title: CASES.loginTokenEnded, reason: 'the store has no findUserByLoginToken (supports.loginTokens)' },
    { title: CASES.livechat, reason: "supports.roomTypes lacks 'l'" },
    { title: CASES.named, reason: NO_FIND_NAMED },
    { title: CASES.purge, reason: NO_PURGE },
    { title: CASES.purgeRace, reason: NO_PURGE },
    ...[CASES.roundTrip, CASES.imports, CASES.refused].map((title) => ({ title, reason: NOT_DOCUMENTS }))
  ], 'the nine cases are not applicable, each with why')
  t.same(skipped, report.notApplicable.map(({ title, reason }) => `${title} (not applicable: ${reason})`), 'each skipped, with why')
  t.equal(report.ran.includes(CASES.loginToken), false, 'not run')
  t.ok(loaded.length > 0 && loaded.every((world) => !world.rooms?.some((room) => room.t === 'l') && !world.messages?.some((m) => m.rid === 'livechat')),
    'no livechat room, nor its messages, in the world handed to load')
})

t.test('supports.loginTokens: false leaves the token case out though the method exists', async (t) => {
  const { report } = await collect({ name: 'tokens not used', create: async () => documentTarget(new FaultyMemoryStore()), supports: { loginTokens: false }, only: [CASES.loginToken] })
  t.same(report.notApplicable.map((na) => na.title), [CASES.loginToken])
})

t.test("any rejection fails the case that met it, named, whatever the error's class", async (t) => {
  // pg's DatabaseError is named 'error'; a store may reject with anything.
  class DatabaseError extends Error { name = 'error' }
  const rejecting = (reason: unknown) => async (): Promise<KitTarget> => {
    const target = documentTarget(new FaultyMemoryStore())
    return { ...target, store: { ...withoutTokens(target.store), findRoomById: async () => { throw reason } } }
  }
  const { failures } = await collect({ name: 'x', create: rejecting(new DatabaseError('relation "rooms" does not exist')), only: [CASES.room] })
  t.same(failures, [`${CASES.room} > ${CASES.room}: threw error: relation "rooms" does not exist`])
  const plain = await collect({ name: 'x', create: rejecting({ code: '42P01' }), only: [CASES.room] })
  t.same(plain.failures, [`${CASES.room} > ${CASES.room}: threw {"code":"42P01"}`], 'a rejection that is no Error')
})

t.test('a lookup result that differs is shown as found and wanted, in what the plugin reads', async (t) => {
  const { failures } = await collect({
    name: 'DMs without members',
    only: [CASES.room],
    create: async () => {
      const target = documentTarget(new FaultyMemoryStore())
      const store = target.store
      return { ...target, store: { ...withoutTokens(store), findRoomById: async (id) => { const room = await store.findRoomById(id); return room === null ? null : { ...room, uids: undefined } } } }
    }
  })
  t.equal(failures[0], `${CASES.room} > a DM (alicebob): found {"_id":"alicebob","federated":false,"t":"d","uids":[]}, wanted {"_id":"alicebob","federated":false,"t":"d","uids":["alice","bob"]}`)
})

t.test('of erases racing, one that rejects is a failure, with what it said', async (t) => {
  const { failures } = await collect({
    name: 'erase rejects',
    only: [CASES.raceErases],
    raceRounds: 1,
    create: async () => {
      const target = documentTarget(new FaultyMemoryStore())
      let calls = 0
      return { ...target, store: { ...withoutTokens(target.store), eraseRoom: async (id) => { if (++calls === 2) throw new Error('deadlock detected'); return await target.store.eraseRoom(id) } } }
    }
  })
  t.same(failures, [`${CASES.raceErases} > round 1: no erase rejects: found ["Error: deadlock detected"], wanted []`])
})

t.test('failures name the rows in the store’s ids, and the kit’s', async (t) => {
  const { failures } = await collect({
    name: 'mapped ids',
    only: [CASES.eraseDiscussion],
    create: async () => {
      const target = documentTarget(new ForgetsDiscussionsMemory())
      return {
        ...target,
        idOf: (kind, kitId) => kind === 'message' ? `yours-${kitId}` : kitId,
        ids: async (kind) => (await target.ids(kind)).map((id) => kind === 'message' ? `yours-${id}` : id)
      }
    }
  })
  t.ok(failures.includes(`${CASES.eraseDiscussion} > the discussion and its own discussion are gone; the DM and its own content stay: ` +
    "room rows that should be gone are still there: 'disc-1-1'; subscription rows that should be gone are still there: 's-disc-1-1-bob'; " +
    "message rows that should be gone are still there: 'yours-m-d11-1' (the kit's 'm-d11-1'), 'yours-m-d11-2' (the kit's 'm-d11-2'); " +
    "upload rows that should be gone are still there: 'up-d11-1'; readReceipt rows that should be gone are still there: 'rr-d11-1'"), 'every row left, by kind', { failures })
})

t.test('a harness whose fault never fires, or never stops, is told so', async (t) => {
  const never = await collect({
    name: 'never fires',
    only: [CASES.atomic],
    create: async () => ({ ...documentTarget(new FaultyMemoryStore()), failNextErase: () => {}, faultFired: () => false })
  })
  t.same(never.failures, [`${CASES.atomic} > the erase makes at least one write the fault can follow`])
  // An erase that always rejects, with a harness that says the fault fired (or did not).
  const rejecting = async (name: string, fired: boolean): Promise<string[]> => (await collect({
    name,
    only: [CASES.atomic],
    create: async () => {
      const target = documentTarget(new FaultyMemoryStore())
      return { ...target, store: { ...withoutTokens(target.store), eraseRoom: async () => { throw new Error('rejects') } }, faultFired: () => fired }
    }
  })).failures
  t.same(await rejecting('always fires', true), [`${CASES.atomic} > faultFired() says false once the erase makes fewer writes than armed (still true after 64)`])
  const swallowed = await rejecting('erase rejects unarmed', false)
  t.ok(swallowed.includes(`${CASES.atomic} > with fewer writes than 1, the armed erase simply succeeds`), 'an erase that rejects with no fault fired', { swallowed })
})

t.test('supports.documents with a store that cannot import or dump', async (t) => {
  const { failures } = await collect({
    name: 'no dump',
    create: async () => ({ ...documentTarget(new FaultyMemoryStore()), store: withoutTokens(new FaultyMemoryStore()) }),
    supports: { documents: true, loginTokens: false },
    only: [CASES.roundTrip]
  })
  t.same(failures, [`${CASES.roundTrip} > ${CASES.roundTrip}: threw Error: supports.documents, but the store has no import() and dump()`])
})

/**
 * A file run by node under node:test, as a project without tap runs the kit. It loads TypeScript
 * the way this file does (tap's loader, in execArgv), so the coverage it records maps onto the same lines.
 */
async function node (file: string, mode = ''): Promise<{ code: number, out: string }> {
  try {
    const { stdout } = await run(process.execPath, [...process.execArgv, '--test-reporter=tap', file], { env: { ...process.env, KIT_RUN: mode } })
    return { code: 0, out: stdout }
  } catch (err) {
    const { code, stdout } = err as { code: number, stdout: string }
    return { code, out: stdout }
  }
}

t.test('under node:test: the harness over PostgresStore on PGlite of docs/custom-store.md passes every case', async (t) => {
  t.ok(await showsExample('docs/custom-store.md', 'examples/kit-pglite.ts'), 'the page shows examples/kit-pglite.ts, importing the package')
  const { code, out } = await node('examples/kit-pglite.ts')
  t.equal(code, 0, 'it passes')
  t.match(out, 'ok 1 - PostgresStore on PGlite', 'as one test')
  t.match(out, `# pass ${1 + CASES_COUNT}`, "the store's test and every case in it")
})

t.test('under node:test: in a test context; a case that does not apply is skipped with why; a broken store fails', async (t) => {
  const context = await node('test/helpers/kit-node-test.ts', 'context')
  t.equal(context.code, 0, 'MemoryStore passes')
  t.match(context.out, '# SKIP not applicable: supports.roomTypes lacks \'l\'', 'livechat: not applicable, and why')
  t.match(context.out, 'ok 1 - MemoryStore in a context', 'under the context given')
  const failing = await node('test/helpers/kit-node-test.ts', 'fail')
  t.equal(failing.code, 1, 'a broken store fails the run')
  t.match(failing.out, `not ok 6 - ${CASES.directRoom}`, 'in the case that catches it')
  t.match(failing.out, 'the members of a private group (and part of a DM of three): no DM: found', 'saying what differed')
})

t.test('a store that purges without findNamed: the purge cases ask the other lookups', async (t) => {
  const { failures, report } = await collect({
    name: 'purge, no findNamed',
    create: async () => {
      const inner = new FaultyMemoryStore()
      const target = documentTarget(inner)
      return { ...target, store: { ...withoutTokens(inner), eraseRoom: async (roomId, options) => await inner.eraseRoom(roomId, options), purge: inner.purge } }
    },
    only: [CASES.purge, CASES.purgeRace]
  })
  t.same(failures, [], 'both pass')
  t.same(report.ran, [CASES.purge, CASES.purgeRace], 'both ran')
})

t.test('supports.federation and supports.rolelessUsers: false: the world has no federated room, every user a role', async (t) => {
  const loaded: Dataset[] = []
  const { failures, report } = await collect({
    name: 'no federation, a role each',
    create: async () => {
      const target = documentTarget(new FaultyMemoryStore())
      return { ...target, load: async (world) => { loaded.push(world); await target.load(world) } }
    },
    supports: { federation: false, rolelessUsers: false },
    only: [CASES.user, CASES.room, CASES.directRoom]
  })
  t.same(failures, [], 'the lookups pass over that world')
  t.same(report.ran, [CASES.user, CASES.room, CASES.directRoom])
  t.ok(loaded.length > 0 && loaded.every((world) => !world.rooms?.some((room) => room.federated === true) && !world.subscriptions?.some((sub) => sub.rid === 'fed-dm')),
    'no federated room, nor its subscriptions, in the world handed to load')
  t.ok(loaded.every((world) => world.users?.every((user) => (user.roles ?? []).length > 0)), 'every user holds a role')
})

t.test('a token that no longer counts: not applicable without expireToken; a harness that says it supports it must give it', async (t) => {
  const without = await collect({ name: 'no expireToken', create: async () => ({ ...documentTarget(new FaultyMemoryStore()), expireToken: undefined }), only: [CASES.loginTokenEnded] })
  t.same(without.report.notApplicable, [{ title: CASES.loginTokenEnded, reason: 'the target has no expireToken (supports.tokenExpiry)' }], 'not applicable, and why')
  const claimed = await collect({
    name: 'claims expiry',
    create: async () => ({ ...documentTarget(new FaultyMemoryStore()), expireToken: undefined }),
    supports: { tokenExpiry: true },
    only: [CASES.loginTokenEnded]
  })
  t.same(claimed.failures, [`${CASES.loginTokenEnded} > the target has expireToken (or the harness says supports.tokenExpiry: false)`])
  const off = await collect({ name: 'tokens never end', create: async () => documentTarget(new FaultyMemoryStore()), supports: { tokenExpiry: false }, only: [CASES.loginTokenEnded] })
  t.same(off.report.notApplicable.map((na) => na.title), [CASES.loginTokenEnded], 'supports.tokenExpiry: false leaves it out though the target could')
})
