/** Rocket.Chat-shaped documents: only the fields the Delete DM use case reads are typed. */

export interface LoginToken {
  hashedToken: string
  when?: string | Date
}

export interface User {
  _id: string
  username?: string
  name?: string
  roles?: string[]
  active?: boolean
  services?: { resume?: { loginTokens?: LoginToken[] } }
  [field: string]: unknown
}

export interface Room {
  _id: string
  /** `d` direct message, `c` channel, `p` private group, `l` livechat, … */
  t: string
  uids?: string[]
  usernames?: string[]
  federated?: boolean
  /** Parent room id: set on discussions. */
  prid?: string
  [field: string]: unknown
}

export interface Subscription {
  _id: string
  rid: string
  u: { _id: string, username?: string }
  t?: string
  roles?: string[]
  open?: boolean
  [field: string]: unknown
}

export interface Message {
  _id: string
  rid: string
  msg?: string
  u?: { _id: string, username?: string }
  /** The thread's parent message: set on a thread reply. */
  tmid?: string
  files?: Array<{ _id: string }>
  drid?: string
  [field: string]: unknown
}

export interface Upload {
  _id: string
  rid: string
  userId?: string
  name?: string
  size?: number
  type?: string
  store?: string
  path?: string
  [field: string]: unknown
}

export interface ReadReceipt {
  _id: string
  rid: string
  messageId: string
  userId: string
  [field: string]: unknown
}

/** What a store imports and dumps: arrays of Rocket.Chat-shaped documents. */
export interface Dataset {
  users?: User[]
  rooms?: Room[]
  subscriptions?: Subscription[]
  messages?: Message[]
  uploads?: Upload[]
  readReceipts?: ReadReceipt[]
}

/** A dump has every collection, each sorted by `_id`. */
export type Dump = Required<Dataset>

/** The authenticated caller, as the hooks see it. */
export interface Caller {
  _id: string
  username: string
  roles: string[]
}

/** Counts of what one erase removed, discussions' content included. */
export interface RemovedCounts {
  messages: number
  subscriptions: number
  uploads: number
  readReceipts: number
  discussions: number
}

/** A removed subscription: whom to tell that the room is gone (Rocket.Chat's `subscriptions-changed`). */
export type RemovedSubscription = Pick<Subscription, '_id' | 'rid' | 'u'> & Partial<Subscription>

export interface EraseResult {
  /** Every room removed: the DM first, then its discussions. */
  rooms: Room[]
  removed: RemovedCounts
  /** The upload records removed, so their blobs can be deleted after the commit. */
  uploads: Upload[]
  /** The subscriptions removed, the discussions' included: at least `_id`, `rid` and `u`. */
  subscriptions: RemovedSubscription[]
  /**
   * True when the store hid the rooms and left their content to `purge.step` (see
   * `EraseOptions.batchSize`): `removed` then counts only the subscriptions and the discussions,
   * and `uploads` is empty; the uploads come from the purge's steps.
   */
  purging?: boolean
}
