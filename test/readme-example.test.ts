import t from 'tap'
import { MapStore, build } from '../examples/custom-store.js'
import { hashLoginToken } from '../index.js'
import { BODIES, IM_DELETE } from './helpers/app.js'
import { showsExample } from './helpers/shown.js'

// The full example of docs/custom-store.md is examples/custom-store.ts, word for word: it
// compiles (tsc -p .), passes lint, and does what the page says.

t.test('docs/custom-store.md shows the example as it is in examples/', async (t) => {
  t.ok(await showsExample('docs/custom-store.md', 'examples/custom-store.ts'), 'it holds the example, importing the package')
})

t.test('the README shows the OpenAPI credentials example as it is in examples/ (test/openapi runs it)', async (t) => {
  t.ok(await showsExample('README.md', 'examples/openapi-credentials.ts'), 'it holds the example')
})

function world (): { store: MapStore, sessions: Map<string, string> } {
  const store = new MapStore()
  for (const user of [
    { _id: 'u-ada', username: 'ada', roles: ['user'], services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('tok') }] } } },
    { _id: 'u-bob', username: 'bob', roles: ['user'] },
    { _id: 'u-eve', username: 'eve' },
    { _id: 'u-root', username: 'root', roles: ['admin'] },
    { _id: 'u-nameless' }
  ]) store.users.set(user._id, user)
  for (const room of [
    { _id: 'ada-bob', t: 'd', uids: ['u-ada', 'u-bob'] },
    { _id: 'bob-eve', t: 'd', uids: ['u-bob', 'u-eve'] },
    { _id: 'disc', t: 'p', prid: 'ada-bob' },
    { _id: 'disc-2', t: 'p', prid: 'disc' },
    { _id: 'general', t: 'c' }
  ]) store.rooms.set(room._id, room)
  store.subscriptions = ['u-ada', 'u-bob'].map((uid) => ({ _id: `ada-bob-${uid}`, rid: 'ada-bob', u: { _id: uid } }))
    .concat([{ _id: 'disc-ada', rid: 'disc', u: { _id: 'u-ada' } }, { _id: 'general-ada', rid: 'general', u: { _id: 'u-ada' } }])
  store.messages = [{ _id: 'm1', rid: 'ada-bob' }, { _id: 'm2', rid: 'disc-2' }, { _id: 'm3', rid: 'general' }]
  const sessions = new Map([['s-ada', 'u-ada'], ['s-eve', 'u-eve'], ['s-root', 'u-root'], ['s-nameless', 'u-nameless']])
  return { store, sessions }
}

t.test('a member deletes a DM with a session token: the DM, its discussions and their content go', async (t) => {
  const { store, sessions } = world()
  const app = await build(store, sessions)
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { authorization: 'Bearer s-ada' }, payload: { username: 'bob' } })
  t.equal(res.body, BODIES.success)
  t.same([...store.rooms.keys()], ['bob-eve', 'general'])
  t.same(store.messages.map((m) => m._id), ['m3'])
  t.same(store.subscriptions.map((s) => s._id), ['general-ada'])
})

t.test('requests the example refuses', async (t) => {
  const { store, sessions } = world()
  const app = await build(store, sessions)
  t.teardown(() => app.close())
  const send = async (authorization: string | undefined, payload: object): Promise<string> =>
    (await app.inject({ method: 'POST', url: IM_DELETE, headers: authorization === undefined ? {} : { authorization }, payload })).body
  t.equal(await send(undefined, { roomId: 'ada-bob' }), BODIES.unauthorized, 'no Authorization header')
  t.equal(await send('Basic s-ada', { roomId: 'ada-bob' }), BODIES.unauthorized, 'not a bearer token')
  t.equal(await send('Bearer nope', { roomId: 'ada-bob' }), BODIES.unauthorized, 'an unknown session')
  t.equal(await send('Bearer s-nameless', { roomId: 'ada-bob' }), BODIES.unauthorized, 'a user without a username')
  t.equal(await send('Bearer s-eve', { roomId: 'bob-eve' }), BODIES.notAllowed, 'a user without roles cannot even view DMs')
  t.equal(await send('Bearer s-ada', { roomId: 'general' }), BODIES.invalidChannel, 'a channel')
  t.equal(await send('Bearer s-ada', { roomId: 'gone' }), BODIES.invalidChannel, 'no such room')
  t.equal(await send('Bearer s-ada', { username: 'zed' }), BODIES.invalidChannel, 'no such user')
  t.equal(await send('Bearer s-ada', { username: 'eve' }), BODIES.success, 'no DM with eve yet: nothing to erase')
  t.equal(await send('Bearer s-root', { roomId: 'bob-eve' }), BODIES.success, 'an admin erases a DM he is not in')
  t.same([...store.rooms.keys()].sort(), ['ada-bob', 'disc', 'disc-2', 'general'])
})

t.test('the example store answers the rest of the interface', async (t) => {
  const { store } = world()
  t.equal((await store.findUser('u-ada'))?.username, 'ada', 'by _id')
  t.equal((await store.findUser('ada'))?._id, 'u-ada', 'by username')
  t.equal(await store.findUser('zed'), null, 'no such user')
  t.equal(await store.eraseRoom('gone'), null, 'erasing a room that is gone')
})
