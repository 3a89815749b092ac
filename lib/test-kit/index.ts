import type { ImDeleteStore } from '../store.js'
import type { Dataset } from '../types.js'
import { BEHAVIOUR, CASES, ROW_KINDS, type DocumentStore, type Open, type Opened, type Rows } from './cases.js'
import { runCase } from './check.js'
import type { KitDocument, KitKind, KitOptions, KitReport, KitTarget, KitTest } from './types.js'
import { kitWorld } from '../fixture.js'

export type { KitDocument, KitKind, KitOptions, KitReport, KitSupports, KitTarget, KitTest } from './types.js'
export { CASES } from './cases.js'
export { KitFault } from './fault.js'
export { fixture, kitWorld, ALICEBOB_TREE, TOKENS, authHeaders, type Who } from '../fixture.js'

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

function opened (target: KitTarget, world: Required<Dataset>, documents: boolean): Opened {
  const docs = Object.fromEntries(Object.entries(COLLECTION).map(([kind, collection]) =>
    [kind, new Map<string, KitDocument>(world[collection].map((doc) => [doc._id, doc]))])) as Record<KitKind, Map<string, KitDocument>>
  const id = (kind: KitKind, kitId: string): string => target.idOf?.(kind, kitId, docs[kind].get(kitId)) ?? kitId
  // Messages written during a case (racing an erase) are named like the world's.
  const written: string[] = []
  return {
    target,
    store: target.store,
    world,
    whole: documents ? target.store as DocumentStore : null,
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
 * The behaviour every `ImDeleteStore` must have, one subtest per case of one test named `name`,
 * under `test` (node:test's or tap's): lookups, the erase cascade over the kit's world, atomicity
 * (a fault armed after each write in turn) and races, as the plugin reads them: ids, types, member
 * sets, roles, counts, and the upload and subscription records handed back. With
 * `supports.documents`, documents are compared whole and the import cases run. Every case runs on
 * a fresh target from `create()` with the world loaded through its `load`.
 */
export async function storeConformance<S extends ImDeleteStore> (test: KitTest, options: KitOptions<S>): Promise<KitReport> {
  const report: KitReport = { ran: [], notApplicable: [] }
  // One test per store, its cases inside: work done between cases stays inside a test too.
  await test(options.name, {}, async (t) => { await cases(t, options, report) })
  return report
}

async function cases<S extends ImDeleteStore> (t: { test: KitTest }, options: KitOptions<S>, report: KitReport): Promise<void> {
  const { create, supports = {}, raceRounds = 3, only } = options
  const holds: Holds = { roomTypes: supports.roomTypes ?? ALL_ROOM_TYPES, federation: supports.federation ?? true, rolelessUsers: supports.rolelessUsers ?? true }
  const world = worldFor(holds)
  const documents = supports.documents === true
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
    purge: purge ? null : 'the store has no purge (optional: every erase is then whole, in one transaction)',
    documents: documents ? null : 'not a document store (supports.documents)'
  }

  for (const [key, { needs, run: body }] of Object.entries(BEHAVIOUR) as Array<[keyof typeof CASES, typeof BEHAVIOUR[keyof typeof CASES]]>) {
    const title = CASES[key]
    if (only !== undefined && !only.includes(title)) continue
    const reason = needs === undefined ? null : reasons[needs]
    if (reason !== null) {
      report.notApplicable.push({ title, reason })
      await t.test(title, { skip: `not applicable: ${reason}` }, async () => {})
      continue
    }
    report.ran.push(title)
    await runCase(t, title, async (check) => {
      const targets: KitTarget[] = []
      const open: Open = async (load = true) => {
        const target = await create()
        targets.push(target)
        // Each target loads its own copy: a loader may keep or change what it is handed.
        if (load) await target.load(worldFor(holds))
        return opened(target, world, documents)
      }
      try {
        await body(check, open, { raceRounds })
      } finally {
        for (const target of targets) await target.teardown?.()
      }
    })
  }
}
