import { randomBytes } from 'node:crypto'
import { hashLoginToken, type Dataset } from '../index.js'

export interface DemoUser { _id: string, username: string, token: string, roles: string[] }

/** A few users with fresh login tokens, their DMs with some content, and a channel that must survive. */
export function demoDataset (): { dataset: Required<Dataset>, users: DemoUser[] } {
  const users: DemoUser[] = [
    { _id: 'u-admin', username: 'admin', roles: ['admin', 'user'], token: '' },
    { _id: 'u-alice', username: 'alice', roles: ['user'], token: '' },
    { _id: 'u-bob', username: 'bob', roles: ['user'], token: '' },
    { _id: 'u-carol', username: 'carol', roles: ['user'], token: '' }
  ].map((user) => ({ ...user, token: randomBytes(32).toString('base64url') }))
  const ts = new Date().toISOString()
  const dm = (a: DemoUser, b: DemoUser): string => [a._id, b._id].sort().join('')
  const [admin, alice, bob, carol] = users
  const pairs: Array<[DemoUser, DemoUser]> = [[admin, alice], [admin, bob], [admin, carol], [alice, bob], [alice, carol], [bob, carol]]
  const dataset: Required<Dataset> = {
    users: users.map(({ token, ...user }) => ({ ...user, name: user.username, active: true, services: { resume: { loginTokens: [{ hashedToken: hashLoginToken(token), when: ts }] } } })),
    rooms: [
      ...pairs.map(([a, b]) => ({ _id: dm(a, b), t: 'd', uids: [a._id, b._id], usernames: [a.username, b.username], msgs: 2, ts })),
      { _id: 'self-admin', t: 'd', uids: [admin._id], usernames: [admin.username], msgs: 0, ts },
      { _id: 'GENERAL', t: 'c', name: 'general', msgs: 1, ts }
    ],
    subscriptions: [
      ...pairs.flatMap(([a, b]) => [a, b].map((u) => ({ _id: `${dm(a, b)}-${u._id}`, rid: dm(a, b), t: 'd', u: { _id: u._id, username: u.username }, open: true }))),
      { _id: `self-admin-${admin._id}`, rid: 'self-admin', t: 'd', u: { _id: admin._id, username: admin.username } },
      ...users.map((u) => ({ _id: `GENERAL-${u._id}`, rid: 'GENERAL', t: 'c', u: { _id: u._id, username: u.username } }))
    ],
    messages: [
      ...pairs.flatMap(([a, b]) => [a, b].map((u, i) => ({ _id: `${dm(a, b)}-m${i}`, rid: dm(a, b), msg: `hi from ${u.username}`, ts, u: { _id: u._id, username: u.username } }))),
      { _id: 'GENERAL-m0', rid: 'GENERAL', msg: 'welcome', ts, u: { _id: admin._id, username: admin.username } }
    ],
    uploads: pairs.map(([a, b]) => ({ _id: `${dm(a, b)}-f0`, rid: dm(a, b), userId: a._id, name: 'photo.png', size: 2048, type: 'image/png' })),
    readReceipts: pairs.map(([a, b]) => ({ _id: `${dm(a, b)}-r0`, rid: dm(a, b), messageId: `${dm(a, b)}-m0`, userId: b._id, ts }))
  }
  return { dataset, users }
}
