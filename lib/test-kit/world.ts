import { hashLoginToken } from '../auth.js'
import { fixture } from '../fixture.js'
import type { Dataset, Message } from '../types.js'

/** Login tokens of the world's users (the world holds their hashes): the fixture's, and the deactivated user's. */
export const KIT_TOKENS = {
  alice: 'alice-secret-token',
  bob: 'bob-secret-token',
  nameless: 'nameless-secret-token',
  dave: 'dave-secret-token'
} as const

const reply = (_id: string, rid: string, uid: string, tmid: string): Message =>
  ({ _id, rid, tmid, msg: `a reply from ${uid}`, ts: '2026-01-01T00:00:02.000Z', u: { _id: uid, username: uid } })

/**
 * The kit's world, Rocket.Chat-shaped: the fixture's DMs (1:1, self-DMs, a group DM of the same
 * members plus one, a federated one), a channel, groups and a livechat room, a DM with a nested
 * discussion tree whose rooms hold their own messages, thread replies (`tmid`), uploads with and
 * without a message pointing to them, read receipts, memberships their users closed (`open: false`);
 * a deactivated user, users without tokens, and a user whose username is another user's `_id`.
 */
export function kitWorld (): Required<Dataset> {
  const world = fixture()
  world.users.push(
    {
      _id: 'dave',
      username: 'dave',
      name: 'DAVE',
      roles: ['user'],
      active: false,
      services: { resume: { loginTokens: [{ hashedToken: hashLoginToken(KIT_TOKENS.dave) }] } }
    },
    { _id: 'u-erin', username: 'erin', roles: ['user'], active: true },
    // findUser looks up by _id first: this user's username must not shadow u-erin. No roles: none.
    { _id: 'u-frank', username: 'u-erin' }
  )
  // Memberships their users closed (hid the room from their list): memberships still.
  for (const sub of world.subscriptions) if (sub._id === 's-adminalice-alice' || sub._id === 's-disc-1-1-bob') sub.open = false
  world.rooms.push({ _id: 'group-ac', t: 'p', name: 'group-ac', uids: ['alice', 'carol'] })
  world.subscriptions.push(
    { _id: 's-group-ac-alice', rid: 'group-ac', u: { _id: 'alice', username: 'alice' }, t: 'p', open: true },
    { _id: 's-group-ac-carol', rid: 'group-ac', u: { _id: 'carol', username: 'carol' }, t: 'p', open: true }
  )
  world.messages.push(
    reply('m-ab-4', 'alicebob', 'bob', 'm-ab-1'),
    reply('m-d11-2', 'disc-1-1', 'alice', 'm-d11-1'),
    reply('m-gen-2', 'general', 'bob', 'm-gen-1'),
    { _id: 'm-lc-1', rid: 'livechat', msg: 'hello from a visitor', ts: '2026-01-01T00:00:00.000Z' }
  )
  world.readReceipts.push({ _id: 'rr-d11-1', rid: 'disc-1-1', messageId: 'm-d11-1', userId: 'alice', ts: '2026-01-01T00:00:03.000Z' })
  return world
}

/** Kit ids of everything an erase of the DM `alicebob` removes: the DM, its discussion tree and what they hold. */
export const KIT_TREE = {
  rooms: ['alicebob', 'disc-1', 'disc-1-1'],
  messages: ['m-ab-1', 'm-ab-2', 'm-ab-3', 'm-ab-4', 'm-d1-1', 'm-d11-1', 'm-d11-2'],
  subscriptions: ['s-alicebob-alice', 's-alicebob-bob', 's-disc-1-alice', 's-disc-1-1-bob'],
  uploads: ['up-ab-1', 'up-ab-orphan', 'up-d11-1'],
  readReceipts: ['rr-ab-1', 'rr-ab-2', 'rr-d1-1', 'rr-d11-1']
}
