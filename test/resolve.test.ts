import t from 'tap'
import { hashLoginToken, type Room } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE, build } from './helpers/app.js'
import { authHeaders, fixture, type Who } from './helpers/fixture.js'

async function del (app: Awaited<ReturnType<typeof build>>['app'], who: Who, payload: object, url = IM_DELETE): Promise<string> {
  return (await app.inject({ method: 'POST', url, headers: authHeaders(who), payload })).body
}

const roomIds = (rooms: Room[]): string[] => rooms.map((room) => room._id)

t.test('roomId must name an existing room of type d', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  for (const roomId of ['nope', '', 'general', 'secret', 'livechat', 'disc-1', 'disc-other', ' alicebob', 'ALICEBOB']) {
    t.equal(await del(app, 'admin', { roomId }), BODIES.invalidChannel, `roomId ${JSON.stringify(roomId)}`)
  }
  t.same(await store.dump(), before, 'no channel, group or livechat is ever erased')
})

t.test('username must name an existing user', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  for (const username of ['ghost', '', '@', '@@bob', 'Bob', 'bob ']) {
    t.equal(await del(app, 'admin', { username }), BODIES.invalidChannel, `username ${JSON.stringify(username)}`)
  }
  t.same(await store.dump(), before)
})

t.test('username finds the 1:1 DM between the caller and that user, with or without one @', async (t) => {
  for (const username of ['bob', '@bob']) {
    const { app, store } = await build()
    t.equal(await del(app, 'admin', { username }, DM_DELETE), BODIES.success, username)
    const rooms = roomIds((await store.dump()).rooms)
    t.notOk(rooms.includes('adminbob'), `${username}: admin-bob DM erased`)
    t.ok(rooms.includes('adminalice') && rooms.includes('self-admin'), `${username}: the caller's other DMs stay`)
  }
})

t.test("the caller's own username names the caller's self-DM", async (t) => {
  const { app, store } = await build()
  t.equal(await del(app, 'admin', { username: 'admin' }), BODIES.success)
  const rooms = roomIds((await store.dump()).rooms)
  t.notOk(rooms.includes('self-admin'))
  t.ok(rooms.includes('self-alice'), "someone else's self-DM stays")
})

t.test('a multi-user DM is reachable by its room id only, in either field', async (t) => {
  for (const target of [{ roomId: 'group-dm' }, { username: 'group-dm' }, { roomId: '#group-dm' }]) {
    const { app, store } = await build({ permissions: { 'delete-d': ['admin', 'user'] } })
    // alice and carol share only the three-member DM: by username there is no 1:1 DM to erase.
    t.equal(await del(app, 'alice', { username: 'carol' }), BODIES.success)
    t.ok(roomIds((await store.dump()).rooms).includes('group-dm'), 'the group DM stays')
    t.equal(await del(app, 'alice', target), BODIES.success, JSON.stringify(target))
    t.notOk(roomIds((await store.dump()).rooms).includes('group-dm'), `${JSON.stringify(target)}: erased`)
  }
})

t.test('a DM that does not exist yet: answered as Rocket.Chat would, nothing created or changed', async (t) => {
  const hooks: string[] = []
  const options = {
    onBeforeErase: () => { hooks.push('before') },
    onAfterErase: () => { hooks.push('after') },
    fileStore: { remove: () => { hooks.push('file') } }
  }
  const { app, store } = await build(options)
  const before = await store.dump()
  t.equal(await del(app, 'admin', { username: 'bot' }), BODIES.success, 'an admin may erase it: 200')
  t.equal(await del(app, 'alice', { username: 'carol' }), BODIES.eraseNotAllowed, 'a member without delete-d: not allowed, with details')
  t.same(await store.dump(), before, 'nothing created, nothing erased')
  await app.close()
  t.same(hooks, [], 'no hook called')

  const strict = await build({ permissions: { 'view-d-room': [] } })
  t.equal(await del(strict.app, 'alice', { username: 'carol' }), BODIES.notAllowed, 'without view-d-room: not allowed, no details')
  t.equal(await del(strict.app, 'admin', { username: 'bot' }), BODIES.success, 'view-room-administration still reaches it')
})

t.test("one's own username without a self-DM: nothing to erase, answered as Rocket.Chat would", async (t) => {
  const { app, store } = await build({ permissions: { 'delete-d': ['admin', 'user'] } })
  const before = await store.dump()
  t.notOk(before.rooms.some((room) => room.t === 'd' && room.uids?.length === 1 && room.uids[0] === 'bob'), 'bob has no self-DM')
  t.equal(await del(app, 'bob', { username: '@bob' }), BODIES.success)
  t.same(await store.dump(), before, 'nothing created, nothing erased')
  const strict = await build()
  t.equal(await del(strict.app, 'bob', { username: 'bob' }), BODIES.eraseNotAllowed, 'without delete-d: not allowed, with details')
})

t.test('the DM found by username goes through the same checks', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  t.equal(await del(app, 'alice', { username: 'bob' }), BODIES.eraseNotAllowed, 'member without delete-d')
  t.equal(await del(app, 'admin', { username: 'carol' }), BODIES.federated, 'admin-carol is federated')
  t.same(await store.dump(), before)
})

// ---------------------------------------------------------------------------------------------
// Rev 2: one resolution for both fields, as Rocket.Chat's getRoomByNameOrIdWithOptionToJoin.
// ---------------------------------------------------------------------------------------------

/** The fixture plus dave, whose `_id` is not his username, and his DM with the admin. */
function withDave (): ReturnType<typeof fixture> {
  const data = fixture()
  data.users.push({ _id: 'u-dave', username: 'dave', roles: ['user'] })
  data.rooms.push({ _id: 'admin-dave', t: 'd', uids: ['admin', 'u-dave'], usernames: ['admin', 'dave'] })
  data.subscriptions.push(
    { _id: 's-admin-dave-admin', rid: 'admin-dave', u: { _id: 'admin', username: 'admin' }, t: 'd' },
    { _id: 's-admin-dave-dave', rid: 'admin-dave', u: { _id: 'u-dave', username: 'dave' }, t: 'd' }
  )
  return data
}

t.test("the six forms a Rocket.Chat client sends all reach the caller's DM with that user", async (t) => {
  const forms = [
    { roomId: 'admin-dave' },
    { username: 'admin-dave' },
    { roomId: '#admin-dave' },
    { roomId: 'dave' },
    { roomId: 'u-dave' },
    { username: '@dave' },
    { username: 'u-dave' },
    { username: '@u-dave' }
  ]
  for (const target of forms) {
    const { app, store } = await build({ dataset: withDave() })
    const before = await store.dump()
    t.equal(await del(app, 'admin', target), BODIES.success, JSON.stringify(target))
    const after = await store.dump()
    t.same(roomIds(after.rooms), roomIds(before.rooms).filter((id) => id !== 'admin-dave'), `${JSON.stringify(target)}: that DM, and only it, is erased`)
  }
})

t.test('the first @ is dropped wherever it stands, and only the first', async (t) => {
  const { app, store } = await build({ dataset: withDave() })
  const before = await store.dump()
  for (const name of ['@@dave', 'd@@ave', '@da@ve', 'dave@@', '@#admin-dave', '#@admin-dave', '# admin-dave']) {
    t.equal(await del(app, 'admin', { username: name }), BODIES.invalidChannel, `username ${JSON.stringify(name)}`)
    t.equal(await del(app, 'admin', { roomId: name }), BODIES.invalidChannel, `roomId ${JSON.stringify(name)}`)
  }
  t.same(await store.dump(), before)
  for (const name of ['da@ve', 'dave@', 'u-@dave']) {
    const fresh = await build({ dataset: withDave() })
    t.equal(await del(fresh.app, 'admin', { roomId: name }), BODIES.success, `${JSON.stringify(name)} names dave`)
    t.notOk(roomIds((await fresh.store.dump()).rooms).includes('admin-dave'))
  }
  const room = await build({ dataset: withDave() })
  t.equal(await del(room.app, 'admin', { username: 'admin-@dave' }), BODIES.success, 'a room id with one @ in it')
  t.notOk(roomIds((await room.store.dump()).rooms).includes('admin-dave'))
})

t.test('# names a room by id only: never a user, never a channel', async (t) => {
  const { app, store } = await build({ dataset: withDave() })
  const before = await store.dump()
  for (const roomId of ['#', '#dave', '#u-dave', '#general', '#secret', '#livechat', '#disc-1', '##admin-dave', '', '@']) {
    t.equal(await del(app, 'admin', { roomId }), BODIES.invalidChannel, `roomId ${JSON.stringify(roomId)}`)
    t.equal(await del(app, 'admin', { username: roomId }), BODIES.invalidChannel, `username ${JSON.stringify(roomId)}`)
  }
  t.same(await store.dump(), before)
  t.equal(await del(app, 'admin', { username: '#self-admin' }), BODIES.success, 'a self-DM by its id')
})

t.test("one's own user id or username names one's self-DM, in either field", async (t) => {
  for (const target of [{ roomId: 'admin' }, { roomId: '@admin' }, { username: 'admin' }]) {
    const { app, store } = await build()
    t.equal(await del(app, 'admin', target), BODIES.success, JSON.stringify(target))
    const rooms = roomIds((await store.dump()).rooms)
    t.notOk(rooms.includes('self-admin'), `${JSON.stringify(target)}: the self-DM is erased`)
    t.ok(rooms.includes('adminalice') && rooms.includes('self-alice'), `${JSON.stringify(target)}: nothing else`)
  }
})

t.test('a user wins over a room of the same id, and a user by _id over one by username', async (t) => {
  const data = fixture()
  // adminbob: a user whose _id is the admin-bob DM's id. quinn: one user's _id, another's username.
  data.users.push({ _id: 'adminbob', username: 'zed', roles: ['user'] }, { _id: 'quinn', username: 'yan', roles: ['user'] }, { _id: 'u-x', username: 'quinn', roles: ['user'] })
  for (const [rid, uid] of [['admin-quinn', 'quinn'], ['admin-x', 'u-x']]) {
    data.rooms.push({ _id: rid, t: 'd', uids: ['admin', uid] })
    data.subscriptions.push({ _id: `s-${rid}`, rid, u: { _id: 'admin', username: 'admin' }, t: 'd' })
  }
  const { app, store } = await build({ dataset: data })
  const before = await store.dump()
  t.equal(await del(app, 'admin', { roomId: 'adminbob' }), BODIES.success, 'no DM with that user yet: nothing to erase')
  t.same(await store.dump(), before, 'the room of that id stays')
  t.equal(await del(app, 'admin', { username: 'quinn' }), BODIES.success)
  const rooms = roomIds((await store.dump()).rooms)
  t.notOk(rooms.includes('admin-quinn'), 'the DM with the user whose _id it is goes')
  t.ok(rooms.includes('admin-x'), 'the DM with the user whose username it is stays')
})

t.test('a deactivated user still names the DM with them', async (t) => {
  const data = fixture()
  data.users = data.users.map((user) => user._id === 'bob' ? { ...user, active: false } : user)
  const { app, store } = await build({ dataset: data })
  t.equal(await del(app, 'admin', { username: 'bob' }), BODIES.success)
  t.notOk(roomIds((await store.dump()).rooms).includes('adminbob'))
})

t.test('no DM yet and no create-d: Rocket.Chat\'s createDirectMessage refusal, before any other check', async (t) => {
  // Everything else is refused too: create-d is what the caller hears about.
  const { app, store } = await build({ permissions: { 'create-d': [], 'view-d-room': [], 'delete-d': [], 'view-room-administration': [] } })
  const before = await store.dump()
  for (const target of [{ username: 'carol' }, { roomId: 'carol' }, { username: '@carol' }, { roomId: 'c@arol' }, { username: 'bot' }]) {
    t.equal(await del(app, 'alice', target), BODIES.createNotAllowed, JSON.stringify(target))
  }
  t.equal(await del(app, 'bob', { username: 'bob' }), BODIES.createNotAllowed, 'bob has no self-DM either')
  t.equal(await del(app, 'alice', { username: 'bob' }), BODIES.notAllowed, 'an existing DM needs no create-d')
  t.same(await store.dump(), before, 'nothing created, nothing erased')

  const guest = await build({ dataset: { ...fixture(), users: [...fixture().users, { _id: 'g', username: 'g', roles: ['guest'], services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('gt') }] } } }] } })
  const res = await guest.app.inject({ method: 'POST', url: IM_DELETE, headers: { 'x-user-id': 'g', 'x-auth-token': 'gt' }, payload: { username: 'alice' } })
  t.equal(res.body, BODIES.createNotAllowed, 'by default a guest lacks create-d')

  const allowed = await build({ permissions: { 'create-d': ['user'] } })
  t.equal(await del(allowed.app, 'alice', { username: 'carol' }), BODIES.eraseNotAllowed, 'with create-d, the member checks follow')
})

t.test('no DM yet with a user who has no username: the answer of Rocket.Chat\'s createDirectMessage argument check', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  for (const target of [{ username: 'nameless' }, { roomId: 'nameless' }, { username: '@nameless' }]) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: target })
    t.equal(res.statusCode, 400, JSON.stringify(target))
    t.equal(res.body, BODIES.usernameMissing, JSON.stringify(target))
  }
  const strict = await build({ permissions: { 'create-d': [] } })
  t.equal(await del(strict.app, 'admin', { username: 'nameless' }), BODIES.usernameMissing, 'checked before create-d, as Rocket.Chat does')
  t.same(await store.dump(), before)

  const data = fixture()
  data.rooms.push({ _id: 'admin-nameless', t: 'd', uids: ['admin', 'nameless'] })
  data.subscriptions.push({ _id: 's-an-admin', rid: 'admin-nameless', u: { _id: 'admin', username: 'admin' }, t: 'd' })
  const existing = await build({ dataset: data })
  t.equal(await del(existing.app, 'admin', { username: 'nameless' }), BODIES.success, 'an existing DM with them is found by their _id')
  t.notOk(roomIds((await existing.store.dump()).rooms).includes('admin-nameless'))
})
