import type { FastifyBaseLogger } from 'fastify'
import {
  AppPreventedError,
  CreateNotAllowedError,
  EraseNotAllowedError,
  FederatedRoomError,
  HookTimeoutError,
  InvalidChannelError,
  InvalidRoomError,
  NotAllowedError,
  UsernameMissingError
} from './errors.js'
import { BlobRemovals, keepsBlobs } from './blobs.js'
import { logFailure } from './log.js'
import type { HasPermission } from './permissions.js'
import { directRoomKey, type ImDeleteStore, type Named } from './store.js'
import type { Caller, RemovedCounts, RemovedSubscription, Room, Subscription, Upload, User } from './types.js'

export type EraseTarget = { roomId: string } | { username: string }

export interface BeforeEraseContext {
  room: Room
  user: Caller
}

export interface AfterEraseContext {
  room: Room
  user: Caller
  removed: RemovedCounts
  /** Every room removed: the DM first, then its discussions. */
  rooms: Room[]
  /** Every subscription removed (the discussions' too): whom to tell the rooms are gone. */
  subscriptions: RemovedSubscription[]
}

/** Resolve to `false` to veto the erase (Rocket.Chat's Apps "prevent" hook). */
export type BeforeEraseHook = (context: BeforeEraseContext) => boolean | void | Promise<boolean | void>
export type AfterEraseHook = (context: AfterEraseContext) => void | Promise<void>

/** Where file blobs live: called after the database part of an erase has committed. */
export interface FileStore {
  /**
   * Removes the upload's blob. It may be called more than once for one upload (retries after a
   * failure or a restart): a blob that is already gone must count as removed, not as a failure.
   */
  remove (upload: Upload): void | Promise<void>
  /** Removes a room's avatar, if your deployment keeps them. */
  removeAvatar?: (room: Room) => void | Promise<void>
}

export interface EraserOptions {
  store: ImDeleteStore
  hasPermission: HasPermission
  onBeforeErase: BeforeEraseHook[]
  onAfterErase: AfterEraseHook[]
  fileStore?: FileStore
  /** How long a hook may take before it is given up on, in milliseconds. */
  hookTimeout: number
}

/** `findNamed`'s answer from the three lookups it stands for, at once. */
async function findApart (store: ImDeleteStore, key: string, subscriberId: string | undefined): Promise<Named> {
  const [user, room, subscription] = await Promise.all([
    store.findUser(key),
    store.findRoomById(key),
    subscriberId === undefined ? null : store.findSubscription(key, subscriberId)
  ])
  return { user, room, subscription }
}

/** Runs a hook, rejecting with HookTimeoutError when it does not settle in time. */
async function bounded<T> (name: string, ms: number, hook: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new HookTimeoutError(name, ms)), ms)
  })
  try {
    return await Promise.race([Promise.resolve().then(hook), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** The use case: resolve the DM, check the caller may reach and erase it, erase, notify. */
export class DirectMessageEraser {
  readonly #options: EraserOptions
  readonly #pending = new Set<Promise<void>>()
  /** Blob removals the store records, so that they survive this process; null when it does not. */
  readonly #blobs: BlobRemovals | null

  constructor (options: EraserOptions) {
    this.#options = options
    const { store, fileStore, hookTimeout } = options
    this.#blobs = fileStore !== undefined && keepsBlobs(store)
      ? new BlobRemovals(store, async (upload) => { await bounded('fileStore.remove', hookTimeout, () => fileStore.remove(upload)) })
      : null
  }

  async erase (user: Caller, target: EraseTarget, log: FastifyBaseLogger): Promise<void> {
    const { store, hasPermission, hookTimeout } = this.#options
    const { room, subscription, exists } = await this.#resolve(user, target)

    // Global checks, as Rocket.Chat's canAccessRoom makes them: view-joined-room first, then view-d-room.
    const reachable = (subscription !== null && (await hasPermission(user, 'view-joined-room') || await hasPermission(user, 'view-d-room'))) ||
      await hasPermission(user, 'view-room-administration')
    if (!reachable) throw new NotAllowedError()

    if (room.federated === true) throw new FederatedRoomError()
    if (!await hasPermission(user, 'delete-d', room, subscription)) throw new EraseNotAllowedError()
    // Rocket.Chat would have created this DM only to erase it: answer as it would, change nothing.
    if (!exists) return

    for (const hook of this.#options.onBeforeErase) {
      if (await bounded('onBeforeErase', hookTimeout, () => hook({ room, user })) === false) throw new AppPreventedError()
    }

    // Nothing registered to run after the erase: the store need not hand documents back.
    const afterwards = this.#options.fileStore !== undefined || this.#options.onAfterErase.length > 0
    const result = await store.eraseRoom(room._id, this.#blobs === null ? { documents: afterwards } : { documents: afterwards, recordBlobs: true })
    if (result === null) throw new InvalidRoomError()

    log.info({ imDelete: { roomId: room._id, userId: user._id, username: user.username, removed: result.removed } }, 'im.delete: DM erased')
    if (!afterwards) return
    const { removed, rooms, subscriptions, uploads } = result
    this.#track(this.#afterErase({ room, user, removed, rooms, subscriptions }, uploads, log))
  }

  /** Resolves once every after-erase task started so far has settled. */
  async drain (): Promise<void> {
    await Promise.all(this.#pending)
  }

  /** Starts finishing the blob removals the store recorded (what a crash or an outage left). */
  resumeBlobRemovals (log: FastifyBaseLogger): void {
    this.#blobs?.start(log)
  }

  async stopBlobRemovals (): Promise<void> {
    await this.#blobs?.stop()
  }

  /**
   * Rocket.Chat's one resolution for both body fields (`getRoomByNameOrIdWithOptionToJoin`
   * with type `d`): `#id` names a room; otherwise, the first `@` dropped, a user by `_id` or
   * username names the DM with them, and failing a user, a room by id.
   */
  async #resolve (user: Caller, target: EraseTarget): Promise<{ room: Room, subscription: Subscription | null, exists: boolean }> {
    const { store } = this.#options
    const nameOrId = 'roomId' in target ? target.roomId : target.username
    let room: Room | null
    if (nameOrId.startsWith('#')) {
      room = nameOrId === '#' ? null : await store.findRoomById(nameOrId.slice(1))
    } else {
      const key = nameOrId.replace('@', '')
      if (key === '') throw new InvalidChannelError()
      // All at once (one call of a store's findNamed): the common request names a DM by its id
      // in `roomId`, for which the user lookup misses; waiting for that miss, then for the room,
      // then for the caller's subscription to it would be three round trips. The subscription is
      // looked up ahead only for `roomId`, which is almost always a room id.
      const ahead = 'roomId' in target ? user._id : undefined
      const { user: other, room: byId, subscription } = store.findNamed !== undefined
        ? await store.findNamed(key, ahead)
        : await findApart(store, key, ahead)
      if (other === null) {
        if (byId === null || byId.t !== 'd') throw new InvalidChannelError()
        return { room: byId, subscription: ahead !== undefined ? subscription : await store.findSubscription(byId._id, user._id), exists: true }
      }
      const uids = directRoomKey([user._id, other._id])
      room = await store.findDirectRoom(uids)
      if (room === null) return await this.#unborn(user, other, uids)
    }
    if (room === null || room.t !== 'd') throw new InvalidChannelError()
    return { room, subscription: await store.findSubscription(room._id, user._id), exists: true }
  }

  /** The DM Rocket.Chat's `createDirectMessage` would create, with the caller subscribed to it; refused as it refuses. */
  async #unborn (user: Caller, other: User, uids: string[]): Promise<{ room: Room, subscription: Subscription, exists: false }> {
    if (typeof other.username !== 'string') throw new UsernameMissingError()
    if (!await this.#options.hasPermission(user, 'create-d')) throw new CreateNotAllowedError()
    const usernames = [...new Set([user.username, other.username])]
    const room: Room = { _id: uids.join(''), t: 'd', uids, usernames }
    const subscription: Subscription = { _id: '', rid: room._id, t: 'd', u: { _id: user._id, username: user.username }, roles: [] }
    return { room, subscription, exists: false }
  }

  async #afterErase (context: AfterEraseContext, uploads: Upload[], log: FastifyBaseLogger): Promise<void> {
    const { fileStore, onAfterErase, hookTimeout } = this.#options
    const run = async (name: string, hook: () => unknown): Promise<void> => {
      try {
        await bounded(name, hookTimeout, hook)
      } catch (err) {
        logFailure(log, err, { roomId: context.room._id }, `im.delete: ${name} failed after the erase`)
      }
    }
    // Side by side: a hook need not wait for the blobs (nor for their bookkeeping in the store).
    await Promise.all([
      ...(fileStore === undefined
        ? []
        : [
            ...uploads.map(async (upload) => this.#blobs === null
              ? await run('fileStore.remove', () => fileStore.remove(upload))
              : await this.#blobs.removeNow(upload, log, context.room._id)),
            ...(fileStore.removeAvatar === undefined
              ? []
              : context.rooms.map((room) => run('fileStore.removeAvatar', () => fileStore.removeAvatar?.(room))))
          ]),
      ...onAfterErase.map((hook) => run('onAfterErase', () => hook(context)))
    ])
  }

  #track (task: Promise<void>): void {
    this.#pending.add(task)
    task.finally(() => this.#pending.delete(task))
  }
}
