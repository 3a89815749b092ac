import { randomUUID } from 'node:crypto'
import t from 'tap'
import { publishRemovals, type UserStreamEvent } from '../examples/notify-removed.js'
import { BODIES, IM_DELETE, build } from './helpers/app.js'
import { authHeaders } from './helpers/fixture.js'
import { redisFor } from './helpers/services.js'
import { showsExample } from './helpers/shown.js'

// The after-erase example of docs/existing-server.md is examples/notify-removed.ts, word for
// word; here it runs against the real Redis, with a subscriber listening as a websocket gateway would.

t.test('docs/existing-server.md shows the after-erase example as it is in examples/', async (t) => {
  t.ok(await showsExample('docs/existing-server.md', 'examples/notify-removed.ts'), 'it holds the example, importing the package')
})

interface Heard { channel: string, eventName: string, action: string, id: string, document: Record<string, any> }

t.test("every member of the erased DM and of its discussions hears Rocket.Chat's removed events, and nobody else", async (t) => {
  const redis = await redisFor(t)
  if (redis === null) return
  // A prefix of our own: other people's tests share this Redis.
  const prefix = `fastify-im-delete-test:${randomUUID()}:`
  const subscriber = redis.duplicate()
  t.teardown(() => subscriber.disconnect())
  const heard: Heard[] = []
  let sentinel = (): void => {}
  subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
    if (channel === `${prefix}done`) return sentinel()
    const event = JSON.parse(message) as UserStreamEvent
    heard.push({ channel, eventName: event.eventName, action: event.args[0], id: event.args[1]._id, document: event.args[1] })
  })
  await subscriber.psubscribe(`${prefix}*`)
  /** Everything published so far has arrived once a message published after it has (one connection keeps its order). */
  const settled = async (): Promise<void> => {
    const done = new Promise<void>((resolve) => { sentinel = resolve })
    await redis.publish(`${prefix}done`, '')
    await done
  }

  const { app } = await build({ onAfterErase: publishRemovals(redis, prefix) })
  t.equal((await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('alice'), payload: { roomId: 'alicebob' } })).body, BODIES.eraseNotAllowed)
  t.equal((await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { username: 'bot' } })).body, BODIES.success, 'a DM that does not exist yet')
  await settled()
  t.same(heard, [], 'a refused erase, or one with nothing to erase, tells nobody anything')

  // An admin erases a DM he is not in: both members hear it, for the DM and for each discussion.
  t.equal((await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'alicebob' } })).body, BODIES.success)
  // close() waits for the after-erase work: every publish has been sent.
  await app.close()
  await settled()
  const summary = heard.map(({ channel, eventName, action, id }) => [channel.slice(prefix.length), eventName, action, id].join(' ')).sort()
  t.same(summary, [
    'alice alice/rooms-changed removed alicebob',
    'alice alice/rooms-changed removed disc-1',
    'alice alice/subscriptions-changed removed s-alicebob-alice',
    'alice alice/subscriptions-changed removed s-disc-1-alice',
    'bob bob/rooms-changed removed alicebob',
    'bob bob/rooms-changed removed disc-1-1',
    'bob bob/subscriptions-changed removed s-alicebob-bob',
    'bob bob/subscriptions-changed removed s-disc-1-1-bob'
  ], 'exactly these events, each on its member\'s channel; none for the admin')
  for (const { eventName, document } of heard) {
    if (eventName.endsWith('/subscriptions-changed')) t.match(document, { rid: String, u: { _id: String, username: String } }, `${eventName}: the subscription document`)
    else t.match(document, { _id: String, t: /^[dp]$/ }, `${eventName}: the room document`)
  }
})
