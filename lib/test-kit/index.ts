import type { ImDeleteStore } from '../store.js'
import type { Dataset } from '../types.js'
import { BEHAVIOUR, CASES, ROW_KINDS, type Open, type Opened, type Rows } from './cases.js'
import { runnerFor, type Runner } from './check.js'
import { DOCUMENT_CASES, type DocumentStore } from './documents.js'
import type { KitDocument, KitKind, KitOptions, KitReport, KitRunner, KitTarget } from './types.js'
import { kitWorld } from './world.js'
import { fixture } from '../fixture.js'

export type { KitDocument, KitKind, KitOptions, KitReport, KitRunner, KitSupports, KitTarget, NodeTestContextLike, NodeTestLike, TapLike } from './types.js'
export type { DocumentStore } from './documents.js'
export { CASES } from './cases.js'
export { KitFault } from './fault.js'
export { DOCUMENT_CASES, orphans } from './documents.js'
export { KIT_TOKENS, KIT_TREE, kitWorld } from './world.js'
export { fixture, ALICEBOB_TREE, TOKENS, authHeaders, type Who } from '../fixture.js'

const ALL_ROOM_TYPES = ['d', 'c', 'p', 'l']

/** What of the world a store's schema holds (from `supports`). */
interface Holds {
  roomTypes: readonly string[]
  federation: boolean
  rolelessUsers: boolean
}

/**
 * The world as the store's schema can hold it: no rooms of the types it does not model, nor
 * federated ones when it has no federation (nor what those rooms hold); every user holding a role
 * when its accounts must.
 */
function worldFor ({ roomTypes, federation, rolelessUsers }: Holds): Required<Dataset> {
  const world = kitWorld()
  const gone = new Set(world.rooms.filter((room) => !roomTypes.includes(room.t) || (!federation && room.federated === true)).map((room) => room._id))
  return {
    users: rolelessUsers ? world.users : world.users.map((user) => (user.roles ?? []).length === 0 ? { ...user, roles: ['user'] } : user),
    rooms: world.rooms.filter((room) => !gone.has(room._id)),
    subscriptions: world.subscriptions.filter((doc) => !gone.has(doc.rid)),
    messages: world.messages.filter((doc) => !gone.has(doc.rid)),
    uploads: world.uploads.filter((doc) => !gone.has(doc.rid)),
    readReceipts: world.readReceipts.filter((doc) => !gone.has(doc.rid))
  }
}

const COLLECTION: Record<KitKind, keyof Dataset> = {
  user: 'users', room: 'rooms', subscription: 'subscriptions', message: 'messages', upload: 'uploads', readReceipt: 'readReceipts'
}

function opened (target: KitTarget, world: Required<Dataset>): Opened {
  const docs = Object.fromEntries(Object.entries(COLLECTION).map(([kind, collection]) =>
    [kind, new Map<string, KitDocument>(world[collection].map((doc) => [doc._id, doc]))])) as Record<KitKind, Map<string, KitDocument>>
  const id = (kind: KitKind, kitId: string): string => target.idOf?.(kind, kitId, docs[kind].get(kitId)) ?? kitId
  // Messages written during a case (racing an erase) are named like the world's.
  const written: string[] = []
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
      const kitIds = [...docs[kind].keys(), ...kind === 'message' ? written : []]
      const kitId = kitIds.find((k) => id(kind, k) === storeId)
      return kitId === undefined || kitId === storeId ? `'${storeId}'` : `'${storeId}' (the kit's '${kitId}')`
    },
    async write (kitId, kitRoom) {
      written.push(kitId)
      await target.writeMessage({ _id: kitId, rid: kitRoom, u: { _id: 'alice' } })
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
  const holds: Holds = { roomTypes: supports.roomTypes ?? ALL_ROOM_TYPES, federation: supports.federation ?? true, rolelessUsers: supports.rolelessUsers ?? true }
  const world = worldFor(holds)
  // What the store has of the optional methods, from one target.
  const probe = await create()
  const loginTokens = supports.loginTokens ?? typeof probe.store.findUserByLoginToken === 'function'
  const findNamed = typeof probe.store.findNamed === 'function'
  const purge = typeof probe.store.purge?.step === 'function'
  const tokenExpiry = supports.tokenExpiry ?? typeof probe.expireToken === 'function'
  await probe.teardown?.()
  const reasons = {
    loginTokens: loginTokens ? null : 'the store has no findUserByLoginToken (supports.loginTokens)',
    tokenExpiry: !loginTokens ? 'the store has no findUserByLoginToken (supports.loginTokens)' : tokenExpiry ? null : 'the target has no expireToken (supports.tokenExpiry)',
    livechat: holds.roomTypes.includes('l') ? null : "supports.roomTypes lacks 'l'",
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
        const copy = worldFor(holds)
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
