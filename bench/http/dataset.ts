import { hashLoginToken, type Dataset } from '../../index.js'

/** The caller of every authenticated benchmark request: an admin, so it holds `delete-d`. */
export const ADMIN = { _id: 'bench-admin', username: 'bench-admin', token: 'bench-admin-login-token' } as const

/** A token no user holds: the 401 path still hashes it and asks the store, as an attacker's would. */
export const WRONG_TOKEN = 'not-a-login-token-of-anybody-here'

const userId = (i: number): string => `u${i}`

/** The i-th DM, between the admin and user i: Rocket.Chat's 1:1 id, the sorted member ids concatenated. */
export const dmId = (i: number): string => ADMIN._id + userId(i)

/**
 * DMs `start` to `start + dms - 1` between the admin and one user each, with both subscriptions
 * and `messages` messages (the first one read by the other member): what `im.delete` erases,
 * one DM per request. The admin comes with the slice that starts at 0.
 */
export function httpDataset (dms: number, messages = 2, start = 0): Required<Dataset> {
  const ts = '2026-01-01T00:00:00.000Z'
  const admin = { _id: ADMIN._id, username: ADMIN.username }
  const dataset: Required<Dataset> = {
    users: start > 0
      ? []
      : [{
          ...admin,
          roles: ['admin', 'user'],
          active: true,
          services: { resume: { loginTokens: [{ hashedToken: hashLoginToken(ADMIN.token), when: ts }] } }
        }],
    rooms: [],
    subscriptions: [],
    messages: [],
    uploads: [],
    readReceipts: []
  }
  for (let i = start; i < start + dms; i++) {
    const other = { _id: userId(i), username: `user${i}` }
    const rid = dmId(i)
    dataset.users.push({ ...other, roles: ['user'], active: true })
    dataset.rooms.push({ _id: rid, t: 'd', uids: [admin._id, other._id], usernames: [admin.username, other.username], msgs: messages, ts })
    dataset.subscriptions.push(
      { _id: `${rid}-s0`, rid, t: 'd', u: admin, open: true },
      { _id: `${rid}-s1`, rid, t: 'd', u: other, open: true })
    for (let m = 0; m < messages; m++) {
      dataset.messages.push({ _id: `${rid}-m${m}`, rid, msg: `message ${m}`, ts, u: m % 2 === 0 ? admin : other })
    }
    if (messages > 0) dataset.readReceipts.push({ _id: `${rid}-r0`, rid, messageId: `${rid}-m0`, userId: other._id, ts })
  }
  return dataset
}
