// The kit proven by mutation: every deliberately broken store fails it, in the case that tells
// what it broke; the same erase, unbroken, passes (so the failures are the flaws', not the harness's).
import type { PGlite } from '@electric-sql/pglite'
import t, { type Test } from 'tap'
import { CASES, type KitOptions, type KitTarget } from '../lib/test-kit/index.js'
import type { FaultyMemoryStore } from './helpers/app.js'
import { collect, documentTarget, sqlTarget } from './helpers/kit-targets.js'
import {
  EmptyNotNullMemory, ForgetsDiscussionsMemory, LetsDeactivatedInMemory, SqlMutant, SupersetDirectMemory,
  NamedAnySubscriberMemory, NamedUsernameFirstMemory, UsernameFirstMemory, SeesPurgingMemory, FinishesEarlyMemory, RepeatsUploadsMemory,
  NeverHidesMemory, RejectsNulMemory, StepsNothingMemory, NeverFinishesMemory, HidesClosedMemory, StepKeepsBatchMemory, sessionTarget, type SqlFlaws
} from './helpers/mutants.js'
import { pgliteSchema } from './helpers/existing-schema.js'
import { pglite, server, type Backend } from './helpers/postgres.js'

// Dozens of kit runs, on PGlite and on the server, on a busy two-core machine.
t.setTimeout(300_000)

const failuresOf = async (options: KitOptions): Promise<string[]> => (await collect(options)).failures

type Case = keyof typeof CASES

async function expectCaught (t: Test, name: string, create: () => Promise<KitTarget>, caught: Case[], extra: Partial<KitOptions> = {}): Promise<void> {
  const failures = await failuresOf({ name, create, ...extra })
  for (const key of caught) {
    t.ok(failures.some((line) => line.startsWith(CASES[key] + ' > ')), `${name}: the kit fails it in "${CASES[key]}"`, { failures })
  }
}

const memory = (Store: new () => FaultyMemoryStore) => async () => documentTarget(new Store())

t.test('document-store mutants over MemoryStore', async (t) => {
  const mutants: Array<[string, new () => FaultyMemoryStore, Case[]]> = [
    ['forgets discussions', ForgetsDiscussionsMemory, ['eraseTree', 'eraseDiscussion']],
    ['findDirectRoom matches a superset', SupersetDirectMemory, ['directRoom']],
    ['findSubscription hides a membership its user closed', HidesClosedMemory, ['subscription']],
    ['token lookup lets a deactivated user in', LetsDeactivatedInMemory, ['loginToken']],
    ['an empty result, not null, for a room not there', EmptyNotNullMemory, ['eraseGone']],
    ['findUser by username before _id', UsernameFirstMemory, ['user']],
    ['findNamed by username before _id', NamedUsernameFirstMemory, ['named']],
    ["findNamed hands back another member's subscription", NamedAnySubscriberMemory, ['named']],
    ['finds a DM being purged', SeesPurgingMemory, ['purge']],
    ['a failing purge step keeps its batch', StepKeepsBatchMemory, ['purge']],
    ['says a purge is finished with rows left', FinishesEarlyMemory, ['purge', 'purgeRace']],
    ['hands an upload out twice', RepeatsUploadsMemory, ['purge', 'purgeRace']],
    ['has purge but never hides', NeverHidesMemory, ['purge', 'purgeRace']],
    ['sends a NUL to its database', RejectsNulMemory, ['unstorable']],
    ['steps nothing: a hidden DM is never purged', StepsNothingMemory, ['purge', 'purgeRace']],
    ['never says a purge is finished', NeverFinishesMemory, ['purge', 'purgeRace']]
  ]
  // One process, no race to lose: one round of the race cases says all they can.
  for (const [name, Store, caught] of mutants) await expectCaught(t, name, memory(Store), caught, { raceRounds: 1 })
})

const sql = (backend: Backend, flaws: SqlFlaws, foreignKeys = true) => async () =>
  await sqlTarget(backend, (options, schema) => new SqlMutant(options, schema, flaws), { foreignKeys })

// A host schema without foreign keys: a forgotten row stays where the kit can see it, instead of
// failing the rooms' DELETE.
const NO_FOREIGN_KEYS = false

t.test('SQL mutants on PGlite', async (t) => {
  const db = await pglite(t)
  t.same(await failuresOf({ name: 'the same erase, unbroken', create: sql(db, {}) }), [], 'the control passes the kit')
  // Without foreign keys nothing stops a message written just after the erase: the kit says so, and nothing else.
  const noKeys = await failuresOf({ name: 'the same erase, unbroken, no foreign keys', create: sql(db, {}, NO_FOREIGN_KEYS) })
  t.ok(noKeys.length > 0 && noKeys.every((line) => line.startsWith(CASES.raceWrite + ' > ')), 'without foreign keys, it fails only the race with a write', { noKeys })
  const mutants: Array<[string, SqlFlaws, Case[]]> = [
    ['commits per table', { perTable: true }, ['atomic']],
    ['forgets discussions', { depth: 0 }, ['eraseTree', 'eraseDiscussion']],
    ['forgets nested discussions', { depth: 1 }, ['eraseTree']],
    ['forgets thread replies', { forgetsReplies: true }, ['eraseTree']],
    ['forgets uploads without a message', { forgetsUploadsWithoutMessage: true }, ['eraseTree']],
    ['forgets read receipts', { forgetsReadReceipts: true }, ['eraseTree']],
    ['reports "gone" when the room held no message', { goneWhenNoMessages: true }, ['eraseSmall']]
  ]
  // PGlite is one connection: no race to lose, one round of the race cases says all they can.
  for (const [name, flaws, caught] of mutants) await expectCaught(t, name, sql(db, flaws, NO_FOREIGN_KEYS), caught, { raceRounds: 1 })
})

// The racy mutants at the kit's defaults (3 rounds of each race case). Each round of the race
// with writes (writers posting into the DM and its discussions until the erase settles) caught
// the no-row-lock and the DM-row-only erases 30 times in 30 on this two-core machine: a round
// misses with odds below ~10% (95% bound), three rounds below 1e-3, before counting the races of
// erases. The no-transaction erase is caught without luck: a fault after its first write leaves
// that write behind.
t.test('racy SQL mutants on the PostgreSQL server, at the kit\'s defaults', async (t) => {
  const real = await server(t)
  if (real === null) return
  t.same(await failuresOf({ name: 'the same erase, unbroken', create: sql(real, {}) }), [], 'the control passes the kit, races and all')
  await expectCaught(t, 'no transaction, "gone" from a row count', sql(real, { noTransaction: true }), ['atomic'])
  await expectCaught(t, 'no row lock', sql(real, { noLock: true }), ['raceWrite'])
  await expectCaught(t, 'no row lock, "gone" from a row count', sql(real, { noLock: true, goneFromRowCount: true }), ['raceWrite'])
  await expectCaught(t, "the DM's row locked, not its discussions'", sql(real, { locksOnlyRoot: true }), ['raceWrite'])
})

t.test('a token lookup over sessions that expire, on the example schema (PGlite)', async (t) => {
  const db = await pglite(t)
  const only = [CASES.loginToken, CASES.loginTokenEnded]
  const target = (ignoresExpiry: boolean) => async () => {
    const { db: chat, teardown } = await pgliteSchema((db.options as { pglite: PGlite }).pglite)
    return sessionTarget(chat, ignoresExpiry, teardown)
  }
  // No livechat in that schema.
  const supports = { roomTypes: ['d', 'c', 'p'] }
  t.same(await failuresOf({ name: 'reads the expiry', create: target(false), only, supports }), [], 'the control passes the token cases')
  await expectCaught(t, 'ignores the expiry', target(true), ['loginTokenEnded'], { only, supports })
})
