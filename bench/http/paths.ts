import { ADMIN, WRONG_TOKEN, dmId } from './dataset.js'
import type { RequestShape } from './load.js'

export const ROUTE = '/api/v1/im.delete'

const json = { 'content-type': 'application/json' }
const admin = { ...json, 'x-user-id': ADMIN._id, 'x-auth-token': ADMIN.token }

export interface PathSpec {
  key: 'success' | 'unauthorized' | 'invalidChannel'
  label: string
  /** The status every plugin response must have; the floor always answers 200. */
  status: number
  /** Whether each request erases a DM (and so uses one up). */
  erases: boolean
  /** The request; `offset` is the first DM index this run may erase. */
  shape: (offset: number) => RequestShape
}

/** The three paths measured: the success path and the two rejections an attacker can drive. */
export const PATHS: readonly PathSpec[] = [
  {
    key: 'success',
    label: '200 success (erases a DM per request)',
    status: 200,
    erases: true,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: dmId(offset + n) }) })
  },
  {
    key: 'unauthorized',
    label: '401 wrong token (hashed, looked up)',
    status: 401,
    erases: false,
    shape: (offset) => ({
      path: ROUTE,
      headers: { ...json, 'x-user-id': ADMIN._id, 'x-auth-token': WRONG_TOKEN },
      body: (n) => JSON.stringify({ roomId: dmId(offset + n) })
    })
  },
  {
    key: 'invalidChannel',
    label: '400 invalid-channel (no such room)',
    status: 400,
    erases: false,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: `no-such-room-${offset + n}` }) })
  }
]
