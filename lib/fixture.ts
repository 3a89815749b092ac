import { hashLoginToken } from './auth.js'
import type { Dataset, Message, ReadReceipt, Room, Subscription, Upload, User } from './types.js'

export const TOKENS = {
  admin: 'admin-secret-token',
  alice: 'alice-secret-token',
  bob: 'bob-secret-token',
  carol: 'carol-secret-token',
  bot: 'bot-secret-token',
  nameless: 'nameless-secret-token',
  // Only the kit's world holds dave (deactivated).
  dave: 'dave-secret-token'
} as const

export type Who = keyof typeof TOKENS

const user = (_id: Who, roles: string[], extra: Partial<User> = {}): User => ({
  _id,
  username: _id,
  name: _id.toUpperCase(),
  roles,
  active: true,
  services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('old-' + _id) }, { hashedToken: hashLoginToken(TOKENS[_id]) }] } },
  ...extra
})

const sub = (rid: string, uid: string, extra: Partial<Subscription> = {}): Subscription =>
  ({ _id: `s-${rid}-${uid}`, rid, u: { _id: uid, username: uid }, t: 'd', open: true, ...extra })

const msg = (_id: string, rid: string, uid: string, extra: Partial<Message> = {}): Message =>
  ({ _id, rid, msg: `hello from ${uid}`, ts: '2026-01-01T00:00:00.000Z', u: { _id: uid, username: uid }, ...extra })

const upload = (_id: string, rid: string, userId: string): Upload =>
  ({ _id, rid, userId, name: `${_id}.png`, size: 1234, type: 'image/png', store: 'FileSystem:Uploads', path: `/files/${_id}` })

const receipt = (_id: string, rid: string, messageId: string, userId: string): ReadReceipt =>
  ({ _id, rid, messageId, userId, ts: '2026-01-01T00:00:01.000Z' })

const dm = (_id: string, uids: string[], extra: Partial<Room> = {}): Room =>
  ({ _id, t: 'd', uids, usernames: uids, msgs: 0, ts: '2026-01-01T00:00:00.000Z', ...extra })

/**
 * The one world the tests start from, Rocket.Chat-shaped. `fixture()`, the plugin's tests': users
 * (admin, alice, bob, carol, a bot, one without a username), 1:1 DMs, self-DMs, a DM of three, a
 * federated DM, a channel, a group, a livechat room, and the DM `alicebob` with a discussion holding
 * a nested discussion, each with messages, uploads (one no message points to), subscriptions and
 * read receipts (`ALICEBOB_TREE`). `kitWorld()`, the conformance kit's, adds what only the kit asks
 * about: a deactivated user, users without tokens or roles, one whose username is another's `_id`,
 * memberships their users closed (`open: false`), a private group of two members of the DM of
 * three, thread replies (`tmid`), a livechat message and a read receipt in the nested discussion.
 */
export function fixture (): Required<Dataset> {
  return {
    users: [
      user('admin', ['admin', 'user']),
      user('alice', ['user']),
      user('bob', ['user']),
      user('carol', ['user']),
      user('bot', ['bot']),
      { ...user('nameless', ['user']), username: undefined }
    ],
    rooms: [
      dm('alicebob', ['alice', 'bob']),
      dm('adminalice', ['admin', 'alice']),
      dm('adminbob', ['admin', 'bob']),
      dm('self-alice', ['alice']),
      dm('self-admin', ['admin']),
      dm('group-dm', ['alice', 'bob', 'carol']),
      dm('fed-dm', ['admin', 'carol'], { federated: true }),
      { _id: 'disc-1', t: 'p', prid: 'alicebob', fname: 'a discussion' },
      { _id: 'disc-1-1', t: 'p', prid: 'disc-1', fname: 'a nested discussion' },
      { _id: 'disc-other', t: 'p', prid: 'general', fname: 'a discussion of the channel' },
      { _id: 'general', t: 'c', name: 'general' },
      { _id: 'secret', t: 'p', name: 'secret' },
      { _id: 'livechat', t: 'l' }
    ],
    subscriptions: [
      sub('alicebob', 'alice'), sub('alicebob', 'bob'),
      sub('adminalice', 'admin'), sub('adminalice', 'alice'),
      sub('adminbob', 'admin'), sub('adminbob', 'bob'),
      sub('self-alice', 'alice'), sub('self-admin', 'admin'),
      sub('group-dm', 'alice'), sub('group-dm', 'bob'), sub('group-dm', 'carol', { roles: ['owner'] }),
      sub('fed-dm', 'admin'), sub('fed-dm', 'carol'),
      sub('disc-1', 'alice', { t: 'p' }), sub('disc-1-1', 'bob', { t: 'p' }),
      sub('general', 'alice', { t: 'c' }), sub('secret', 'bob', { t: 'p' })
    ],
    messages: [
      msg('m-ab-1', 'alicebob', 'alice', { files: [{ _id: 'up-ab-1' }] }),
      msg('m-ab-2', 'alicebob', 'bob', { drid: 'disc-1' }),
      msg('m-ab-3', 'alicebob', 'alice'),
      msg('m-d1-1', 'disc-1', 'alice'),
      msg('m-d11-1', 'disc-1-1', 'bob', { files: [{ _id: 'up-d11-1' }] }),
      msg('m-aa-1', 'adminalice', 'admin'),
      msg('m-self-1', 'self-alice', 'alice'),
      msg('m-gen-1', 'general', 'alice'),
      msg('m-grp-1', 'group-dm', 'carol'),
      msg('m-do-1', 'disc-other', 'bob')
    ],
    uploads: [
      upload('up-ab-1', 'alicebob', 'alice'),
      upload('up-ab-orphan', 'alicebob', 'bob'),
      upload('up-d11-1', 'disc-1-1', 'bob'),
      upload('up-gen-1', 'general', 'alice')
    ],
    readReceipts: [
      receipt('rr-ab-1', 'alicebob', 'm-ab-1', 'bob'),
      receipt('rr-ab-2', 'alicebob', 'm-ab-2', 'alice'),
      receipt('rr-d1-1', 'disc-1', 'm-d1-1', 'bob'),
      receipt('rr-gen-1', 'general', 'm-gen-1', 'bob')
    ]
  }
}

/** Everything the erase of `alicebob` must remove (the DM, its discussion tree, their content). */
export const ALICEBOB_TREE = {
  rooms: ['alicebob', 'disc-1', 'disc-1-1'],
  messages: ['m-ab-1', 'm-ab-2', 'm-ab-3', 'm-d1-1', 'm-d11-1'],
  subscriptions: ['s-alicebob-alice', 's-alicebob-bob', 's-disc-1-alice', 's-disc-1-1-bob'],
  uploads: ['up-ab-1', 'up-ab-orphan', 'up-d11-1'],
  readReceipts: ['rr-ab-1', 'rr-ab-2', 'rr-d1-1']
}

/** The kit's world: `fixture()` and what only the kit asks about (see above). */
export function kitWorld (): Required<Dataset> {
  const world = fixture()
  world.users.push(
    user('dave', ['user'], { active: false }),
    { _id: 'u-erin', username: 'erin', roles: ['user'], active: true },
    // findUser looks up by _id first: this user's username must not shadow u-erin. No roles: none.
    { _id: 'u-frank', username: 'u-erin' }
  )
  for (const doc of world.subscriptions) if (doc._id === 's-adminalice-alice' || doc._id === 's-disc-1-1-bob') doc.open = false
  world.rooms.push({ _id: 'group-ac', t: 'p', name: 'group-ac', uids: ['alice', 'carol'] })
  world.subscriptions.push(sub('group-ac', 'alice', { t: 'p' }), sub('group-ac', 'carol', { t: 'p' }))
  world.messages.push(
    msg('m-ab-4', 'alicebob', 'bob', { tmid: 'm-ab-1' }),
    msg('m-d11-2', 'disc-1-1', 'alice', { tmid: 'm-d11-1' }),
    msg('m-gen-2', 'general', 'bob', { tmid: 'm-gen-1' }),
    { _id: 'm-lc-1', rid: 'livechat', msg: 'hello from a visitor', ts: '2026-01-01T00:00:00.000Z' }
  )
  world.readReceipts.push(receipt('rr-d11-1', 'disc-1-1', 'm-d11-1', 'alice'))
  return world
}

export function authHeaders (who: Who): Record<string, string> {
  return { 'x-user-id': who, 'x-auth-token': TOKENS[who] }
}
