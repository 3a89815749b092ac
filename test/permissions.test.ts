import t from 'tap'
import { DEFAULT_PERMISSIONS, createHasPermission, type Caller, type HasPermission, type Room, type Subscription } from '../index.js'
import { BODIES, IM_DELETE, build } from './helpers/app.js'
import { authHeaders, type Who } from './helpers/fixture.js'

async function del (app: Awaited<ReturnType<typeof build>>['app'], who: Who, roomId: string): Promise<string> {
  return (await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders(who), payload: { roomId } })).body
}

t.test("Rocket.Chat's default role table", async (t) => {
  t.same(DEFAULT_PERMISSIONS, {
    'view-room-administration': ['admin'],
    'delete-d': ['admin'],
    'view-d-room': ['admin', 'user', 'bot', 'app', 'guest', 'federated-external'],
    'view-joined-room': ['guest', 'bot', 'app', 'anonymous'],
    // Rocket.Chat's newest table (6.12 lacked federated-external here).
    'create-d': ['admin', 'user', 'bot', 'app', 'federated-external'],
    'api-bypass-rate-limit': ['admin', 'bot', 'app']
  })
  t.ok(Object.isFrozen(DEFAULT_PERMISSIONS))
})

t.test('by default only admins erase DMs, their own included', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  t.equal(await del(app, 'alice', 'alicebob'), BODIES.eraseNotAllowed, "a member without delete-d (Rocket.Chat's own test)")
  t.equal(await del(app, 'alice', 'self-alice'), BODIES.eraseNotAllowed, 'not even a self-DM')
  t.equal(await del(app, 'carol', 'alicebob'), BODIES.notAllowed, 'a non-member cannot reach it')
  t.equal(await del(app, 'bot', 'alicebob'), BODIES.notAllowed, 'a bot that is not a member cannot reach it')
  t.same(await store.dump(), before, 'nothing changed')
  t.equal(await del(app, 'admin', 'adminalice'), BODIES.success, 'an admin erases their own DM')
  t.equal(await del(app, 'admin', 'alicebob'), BODIES.success, 'an admin reaches any DM through view-room-administration')
})

t.test('permissions merge over the default table', async (t) => {
  const { app } = await build({ permissions: { 'delete-d': ['admin', 'user'] } })
  t.equal(await del(app, 'carol', 'alicebob'), BODIES.notAllowed, 'still needs to reach the room')
  t.equal(await del(app, 'alice', 'alicebob'), BODIES.success, 'a member holding delete-d erases it')

  const noView = await build({ permissions: { 'view-d-room': ['admin'] } })
  t.equal(await del(noView.app, 'alice', 'alicebob'), BODIES.notAllowed, 'a member needs view-d-room too')

  const noAdmin = await build({ permissions: { 'view-room-administration': [] } })
  t.equal(await del(noAdmin.app, 'admin', 'alicebob'), BODIES.notAllowed, 'an admin who is not a member needs view-room-administration')
  t.equal(await del(noAdmin.app, 'admin', 'adminbob'), BODIES.success, 'but reaches their own DM')
})

t.test("delete-d counts the roles of the caller's subscription to the room", async (t) => {
  const { app } = await build({ permissions: { 'delete-d': ['owner'] } })
  t.equal(await del(app, 'bob', 'group-dm'), BODIES.eraseNotAllowed, 'bob holds no owner role there')
  t.equal(await del(app, 'carol', 'alicebob'), BODIES.notAllowed, 'the owner role elsewhere does not reach another room')
  t.equal(await del(app, 'carol', 'group-dm'), BODIES.success, 'carol owns the group DM')
})

t.test('view-joined-room reaches a subscribed room as view-d-room does', async (t) => {
  const { app, store } = await build({ permissions: { 'view-d-room': [], 'view-joined-room': ['user'], 'delete-d': ['admin', 'user'] } })
  t.equal(await del(app, 'carol', 'alicebob'), BODIES.notAllowed, 'not for a room one is not subscribed to')
  t.equal(await del(app, 'alice', 'alicebob'), BODIES.success, 'a member holding only view-joined-room')
  t.notOk((await store.dump()).rooms.some((room) => room._id === 'alicebob'))

  const neither = await build({ permissions: { 'view-d-room': [], 'view-joined-room': [], 'delete-d': ['admin', 'user'] } })
  t.equal(await del(neither.app, 'alice', 'alicebob'), BODIES.notAllowed, 'a member holding neither')
  t.equal(await del(neither.app, 'admin', 'alicebob'), BODIES.success, 'view-room-administration still reaches it')
})

t.test('the three reach permissions are global: the roles on the subscription count only for delete-d', async (t) => {
  const owners = ['owner']
  const { app, store } = await build({ permissions: { 'view-d-room': owners, 'view-joined-room': owners, 'view-room-administration': owners, 'delete-d': owners } })
  const before = await store.dump()
  // carol's subscription to group-dm carries the owner role; her own roles are ['user'].
  t.equal(await del(app, 'carol', 'group-dm'), BODIES.notAllowed, 'an owner role on the subscription reaches nothing')
  t.same(await store.dump(), before)
  const reach = await build({ permissions: { 'delete-d': owners } })
  t.equal(await del(reach.app, 'carol', 'group-dm'), BODIES.success, 'while it does count for delete-d')
})

t.test('createHasPermission counts subscription roles only when it is given the subscription', async (t) => {
  const hasPermission = createHasPermission({ 'view-d-room': ['owner'] })
  const carol: Caller = { _id: 'carol', username: 'carol', roles: ['user'] }
  const sub: Subscription = { _id: 's', rid: 'group-dm', u: { _id: 'carol' }, roles: ['owner'] }
  t.equal(hasPermission(carol, 'view-d-room'), false, 'a global check')
  t.equal(hasPermission(carol, 'view-d-room', { _id: 'group-dm', t: 'd' }, sub), true, 'a room-scoped check')
})

t.test('federated rooms are refused before delete-d is checked', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  t.equal(await del(app, 'admin', 'fed-dm'), BODIES.federated)
  t.equal(await del(app, 'carol', 'fed-dm'), BODIES.federated, 'carol lacks delete-d, yet hears about federation first')
  t.same(await store.dump(), before)
})

t.test('a custom hasPermission hook, sync or async, sees the caller, the room and the subscription', async (t) => {
  for (const mode of ['sync', 'async'] as const) {
    const calls: Array<[string, string, string | undefined, string | undefined]> = []
    const decide = (user: Caller, permission: string, room?: Room, sub?: Subscription | null): boolean => {
      calls.push([user._id, permission, room?._id, sub?._id])
      return permission !== 'view-room-administration'
    }
    const hasPermission: HasPermission = mode === 'sync' ? decide : async (...args) => decide(...args)
    const { app } = await build({ hasPermission })
    t.equal(await del(app, 'carol', 'alicebob'), BODIES.notAllowed, `${mode}: no subscription, no admin view`)
    t.equal(await del(app, 'alice', 'alicebob'), BODIES.success, `${mode}: a member allowed by the hook`)
    t.same(calls, [
      ['carol', 'view-room-administration', undefined, undefined],
      ['alice', 'view-joined-room', undefined, undefined],
      ['alice', 'delete-d', 'alicebob', 's-alicebob-alice']
    ], `${mode}: calls`)
  }
})

t.test('createHasPermission answers false for permissions it does not know', async (t) => {
  const hasPermission = createHasPermission()
  const admin: Caller = { _id: 'a', username: 'a', roles: ['admin'] }
  t.equal(hasPermission(admin, 'delete-c'), false)
  t.equal(hasPermission(admin, 'delete-d'), true)
  t.equal(hasPermission({ ...admin, roles: [] }, 'delete-d', undefined, { _id: 's', rid: 'r', u: { _id: 'a' } }), false)
})
