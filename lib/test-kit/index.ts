import type { ImDeleteStore } from '../store.js'
import type { Dataset } from '../types.js'
import { BEHAVIOUR, CASES, ROW_KINDS, type Open, type Opened, type Rows } from './cases.js'
import { runnerFor, type Runner } from './check.js'
import { DOCUMENT_CASES, type DocumentStore } from './documents.js'
import type { KitKind, KitOptions, KitReport, KitRunner, KitTarget } from './types.js'
import { kitWorld } from './world.js'
import { fixture } from '../fixture.js'

export type { KitKind, KitOptions, KitReport, KitRunner, KitSupports, KitTarget, NodeTestContextLike, NodeTestLike, TapLike } from './types.js'
export type { DocumentStore } from './documents.js'
export { CASES } from './cases.js'
export { DOCUMENT_CASES, orphans } from './documents.js'
export { KIT_TOKENS, KIT_TREE, kitWorld } from './world.js'
export { fixture, ALICEBOB_TREE, TOKENS, authHeaders, type Who } from '../fixture.js'

const ALL_ROOM_TYPES = ['d', 'c', 'p', 'l']

/** The world without the rooms of types the store does not model, nor what those rooms hold. */
function worldFor (roomTypes: readonly string[]): Required<Dataset> {
  const world = kitWorld()
  const gone = new Set(world.rooms.filter((room) => !roomTypes.includes(room.t)).map((room) => room._id))
  return {
    ...world,
    rooms: world.rooms.filter((room) => !gone.has(room._id)),
    subscriptions: world.subscriptions.filter((doc) => !gone.has(doc.rid)),
    messages: world.messages.filter((doc) => !gone.has(doc.rid)),
    uploads: world.uploads.filter((doc) => !gone.has(doc.rid)),
    readReceipts: world.readReceipts.filter((doc) => !gone.has(doc.rid))
  }
}

function opened (target: KitTarget, world: Required<Dataset>): Opened {
  const id = (kind: KitKind, kitId: string): string => target.idOf?.(kind, kitId) ?? kitId
  const kitIds: Record<string, string[]> = {
    room: world.rooms.map((doc) => doc._id),
    subscription: world.subscriptions.map((doc) => doc._id),
    message: [...world.messages.map((doc) => doc._id), 'm-late'],
    upload: world.uploads.map((doc) => doc._id),
    readReceipt: world.readReceipts.map((doc) => doc._id),
    user: world.users.map((doc) => doc._id)
  }
  return {
    target,
    store: target.store,
    world,
    id,
    async rows () {
      const rows = await Promise.all(ROW_KINDS.map(async (kind) => [...await target.ids(kind)].sort()))
      return Object.fromEntries(ROW_KINDS.map((kind, i) => [kind, rows[i]])) as Rows
    },
    named (kind, storeId) {
      const kitId = kitIds[kind].find((k) => id(kind, k) === storeId)
      return kitId === undefined || kitId === storeId ? `'${storeId}'` : `'${storeId}' (the kit's '${kitId}')`
    }
  }
}

/**
 * The behaviour every `ImDeleteStore` must have, one test per case under `runner` (tap's `t`,
 * `node:test`'s `test`, or a node:test context): lookups, the erase cascade over the kit's world,
 * atomicity (a fault armed after each write in turn) and races, as the plugin reads them: ids,
 * types, member sets, roles, counts, and the upload and subscription records handed back. With
 * `supports.documents`, also the full-fidelity level (import/dump round trips). Every case runs on
 * a fresh target from `create()` with the world loaded through its `load`.
 */
export async function storeConformance<S extends ImDeleteStore> (runner: KitRunner, options: KitOptions<S>): Promise<KitReport> {
  const { name } = options
  const report: KitReport = { ran: [], notApplicable: [] }
  // One test per store, its cases inside: work done between cases stays inside a test too.
  await runnerFor(runner).group(name, async (run) => { await cases(run, options, report) })
  return report
}

async function cases<S extends ImDeleteStore> (run: Runner, options: KitOptions<S>, report: KitReport): Promise<void> {
  const { create, supports = {}, raceRounds = 3, only } = options
  const roomTypes = supports.roomTypes ?? ALL_ROOM_TYPES
  const world = worldFor(roomTypes)
  // What the store has of the optional methods, from one target.
  const probe = await create()
  const loginTokens = supports.loginTokens ?? typeof probe.store.findUserByLoginToken === 'function'
  const findNamed = typeof probe.store.findNamed === 'function'
  const purge = typeof probe.store.purge?.step === 'function'
  await probe.teardown?.()
  const reasons = {
    loginTokens: loginTokens ? null : 'the store has no findUserByLoginToken (supports.loginTokens)',
    livechat: roomTypes.includes('l') ? null : "supports.roomTypes lacks 'l'",
    findNamed: findNamed ? null : 'the store has no findNamed (optional: the plugin calls findUser, findRoomById and findSubscription instead)',
    purge: purge ? null : 'the store has no purge (optional: every erase is then whole, in one transaction)'
  }
  const selected = (title: string): boolean => only === undefined || only.includes(title)

  for (const [key, { needs, run: body }] of Object.entries(BEHAVIOUR) as Array<[keyof typeof CASES, typeof BEHAVIOUR[keyof typeof CASES]]>) {
    const title = CASES[key]
    if (!selected(title)) continue
    const reason = needs === undefined ? null : reasons[needs]
    if (reason !== null) {
      report.notApplicable.push({ title, reason })
      await run.notApplicable(title, reason)
      continue
    }
    report.ran.push(title)
    await run.run(title, async (check) => {
      const targets: KitTarget[] = []
      const open: Open = async () => {
        const target = await create()
        targets.push(target)
        // Each target loads its own copy: a loader may keep or change what it is handed.
        const copy = worldFor(roomTypes)
        await target.load(copy)
        return opened(target, world)
      }
      try {
        await body(check, open, { raceRounds })
      } finally {
        for (const target of targets) await target.teardown?.()
      }
    })
  }

  if (supports.documents !== true) return
  for (const [title, body] of DOCUMENT_CASES) {
    const full = `documents: ${title}`
    if (!selected(full)) continue
    report.ran.push(full)
    await run.run(full, async (check) => {
      const targets: KitTarget[] = []
      const fresh = async (): Promise<{ store: DocumentStore, teardown: () => Promise<void> }> => {
        const target = await create()
        targets.push(target)
        return { store: target.store as unknown as DocumentStore, teardown: async () => {} }
      }
      try {
        const { store } = await fresh()
        if (!check.ok(typeof store.import === 'function' && typeof store.dump === 'function', 'supports.documents: the store has import() and dump()')) return
        await store.import(fixture())
        await body(check, store, fresh)
      } finally {
        for (const target of targets) await target.teardown?.()
      }
    })
  }
}
