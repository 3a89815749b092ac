import t from 'tap'
import type { Room } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE, build } from './helpers/app.js'
import { authHeaders, type Who } from './helpers/fixture.js'

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

t.test('a multi-user DM is reachable by roomId only', async (t) => {
  const { app, store } = await build({ permissions: { 'delete-d': ['admin', 'user'] } })
  // alice and carol share only the three-member DM: by username there is no 1:1 DM to erase.
  t.equal(await del(app, 'alice', { username: 'carol' }), BODIES.success)
  t.ok(roomIds((await store.dump()).rooms).includes('group-dm'), 'the group DM stays')
  t.equal(await del(app, 'alice', { roomId: 'group-dm' }), BODIES.success)
  t.notOk(roomIds((await store.dump()).rooms).includes('group-dm'))
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
