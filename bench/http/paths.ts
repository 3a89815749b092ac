import { ADMIN, WRONG_TOKEN, dmId } from './dataset.js'
import type { RequestShape } from './load.js'

export const ROUTE = '/api/v1/im.delete'

const json = { 'content-type': 'application/json' }
const admin = { ...json, 'x-user-id': ADMIN._id, 'x-auth-token': ADMIN.token }

export interface PathSpec {
  key: 'success' | 'unauthorized' | 'invalidChannel' | 'successNoopStore' | 'successMinimalStore'
  label: string
  /** The server the plugin side runs on. */
  server: 'plugin' | 'plugin-noop-store' | 'plugin-minimal-store'
  /** The status every plugin response must have; the floor always answers 200. */
  status: number
  /** Whether each request erases a DM (and so uses one up). */
  erases: boolean
  /** The request; `offset` is the first DM index this run may erase. */
  shape: (offset: number) => RequestShape
}

/** The paths measured: the success path, the two rejections an attacker can drive, and the success path without storage work. */
export const PATHS: readonly PathSpec[] = [
  {
    key: 'success',
    label: '200 success (erases a DM per request)',
    server: 'plugin',
    status: 200,
    erases: true,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: dmId(offset + n) }) })
  },
  {
    key: 'unauthorized',
    label: '401 wrong token (hashed, looked up)',
    server: 'plugin',
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
    server: 'plugin',
    status: 400,
    erases: false,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: `no-such-room-${offset + n}` }) })
  },
  {
    // Diagnostic, no target: the success path with the storage work taken out (the store answers
    // from constants), so that the plugin's own cost shows apart from the memory store's.
    key: 'successNoopStore',
    label: '200 success on a no-op store (the plugin alone)',
    server: 'plugin-noop-store',
    status: 200,
    erases: false,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: dmId(offset + n) }) })
  },
  {
    // Diagnostic, no target: the success path on the least storage work a store with the same
    // guarantees does (bench/http/minimal-store.ts, which passes the conformance kit), seeded
    // with as many DMs as the memory store: what no such store could avoid.
    key: 'successMinimalStore',
    label: '200 success on a minimal store (the least storage work, same guarantees)',
    server: 'plugin-minimal-store',
    status: 200,
    erases: true,
    shape: (offset) => ({ path: ROUTE, headers: admin, body: (n) => JSON.stringify({ roomId: dmId(offset + n) }) })
  }
]
