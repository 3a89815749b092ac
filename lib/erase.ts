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
import { BlobRemovals, Concurrency } from './blobs.js'
import { logFailure, type Logger } from './log.js'
import type { HasPermission } from './permissions.js'
import { PurgeRunner, type PurgeSettings } from './purge.js'
import { directRoomKey, type EraseOptions, type ImDeleteStore, type Named } from './store.js'
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
  /**
   * True when the DM was too big to erase before the answer: it is gone for every reader, and its
   * content is being purged behind the answer. `removed` then counts only the subscriptions and
   * the discussions; `onAfterPurge` gets the whole erase's counts once the purge is done.
   */
  purging: boolean
}

export interface AfterPurgeContext {
  /** The DM whose purge finished (in whichever process finished it). */
  roomId: string
  /** What the whole erase removed, the discussions' content included. */
  removed: RemovedCounts
}

/** Resolve to `false` to veto the erase (Rocket.Chat's Apps "prevent" hook). */
export type BeforeEraseHook = (context: BeforeEraseContext) => boolean | void | Promise<boolean | void>
export type AfterEraseHook = (context: AfterEraseContext) => void | Promise<void>
export type AfterPurgeHook = (context: AfterPurgeContext) => void | Promise<void>

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
  onAfterPurge: AfterPurgeHook[]
  fileStore?: FileStore
  /** How long a hook may take before it is given up on, in milliseconds. */
  hookTimeout: number
  purge: PurgeSettings
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
  /** Every blob removal of this process goes through it: at most `purge.blobConcurrency` at once. */
  readonly #removals: Concurrency
  /** Big erases finished behind the answer; null when the store cannot purge. */
  readonly #purges: PurgeRunner | null

  constructor (options: EraserOptions) {
    this.#options = options
    const { store, fileStore, hookTimeout, purge } = options
    this.#removals = new Concurrency(purge.blobConcurrency)
    this.#blobs = fileStore !== undefined && store.blobs !== undefined
      // Two steps' uploads at most wait in memory; the rest wait in the store.
      ? new BlobRemovals(store.blobs, async (upload) => { await this.#removals.run(async () => { await bounded('fileStore.remove', hookTimeout, () => fileStore.remove(upload)) }) }, 2 * purge.batchSize)
      : null
    this.#purges = store.purge === undefined
      ? null
      : new PurgeRunner({
        steps: store.purge,
        settings: purge,
        recordBlobs: this.#blobs !== null,
        documents: fileStore !== undefined,
        // Recorded blob removals do not hold the purge back (they wait in the store if need be); others do.
        removeBlobs: async (uploads, roomId, log) => {
          if (this.#blobs === null) await this.#removeBlobs(uploads, roomId, log)
          else this.#blobs.removeLater(uploads, log, roomId)
        },
        finished: async (roomId, removed, log) => { await this.#afterPurge(roomId, removed, log) }
      })
  }

  async erase (user: Caller, target: EraseTarget, log: Logger): Promise<void> {
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
    const options: EraseOptions = { documents: afterwards }
    if (this.#blobs !== null) options.recordBlobs = true
    if (this.#purges !== null) options.batchSize = this.#options.purge.batchSize
    const result = await store.eraseRoom(room._id, options)
    if (result === null) throw new InvalidRoomError()

    const purging = result.purging === true
    const audit = { roomId: room._id, userId: user._id, username: user.username, removed: result.removed }
    if (purging) {
      log.info({ imDelete: { ...audit, purging } }, 'im.delete: DM hidden; its content is purged behind the answer')
      this.#purges?.wake()
    } else {
      log.info({ imDelete: audit }, 'im.delete: DM erased')
    }
    if (!afterwards) return
    const { removed, rooms, subscriptions, uploads } = result
    this.#track(this.#afterErase({ room, user, removed, rooms, subscriptions, purging }, uploads, log))
  }

  /** Starts the work that outlives requests: recorded blob removals, pending purges (what a crash or an outage left). */
  start (log: Logger): void {
    this.#blobs?.start(log)
    this.#purges?.start(log)
  }

  /** Waits for the after-erase tasks started so far, then stops the background work after the step in progress. */
  async stop (): Promise<void> {
    await Promise.all(this.#pending)
    await this.#purges?.stop()
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

  /** Runs a hook after the answer: bounded in time, its failure logged, never thrown. */
  async #run (log: Logger, roomId: string, name: string, hook: () => unknown): Promise<void> {
    try {
      await bounded(name, this.#options.hookTimeout, hook)
    } catch (err) {
      logFailure(log, err, { roomId }, `im.delete: ${name} failed after the erase`)
    }
  }

  /** Removes the blobs of uploads the store removed (and committed), at most `blobConcurrency` at once in this process. */
  async #removeBlobs (uploads: Upload[], roomId: string, log: Logger): Promise<void> {
    const { fileStore } = this.#options
    if (fileStore === undefined) return
    if (this.#blobs !== null) return await this.#blobs.removeNow(uploads, log, roomId)
    await Promise.all(uploads.map(async (upload) => {
      await this.#removals.run(async () => { await this.#run(log, roomId, 'fileStore.remove', () => fileStore.remove(upload)) })
    }))
  }

  async #afterErase (context: AfterEraseContext, uploads: Upload[], log: Logger): Promise<void> {
    const { fileStore, onAfterErase } = this.#options
    const roomId = context.room._id
    const removeAvatar = fileStore?.removeAvatar
    // Side by side: a hook need not wait for the blobs (nor for their bookkeeping in the store).
    const tasks = [this.#removeBlobs(uploads, roomId, log)]
    if (removeAvatar !== undefined) {
      for (const room of context.rooms) tasks.push(this.#run(log, roomId, 'fileStore.removeAvatar', () => removeAvatar.call(fileStore, room)))
    }
    for (const hook of onAfterErase) tasks.push(this.#run(log, roomId, 'onAfterErase', () => hook(context)))
    await Promise.all(tasks)
  }

  /** A purge finished here: the audit line with what the whole erase removed, then the hooks. */
  async #afterPurge (roomId: string, removed: RemovedCounts, log: Logger): Promise<void> {
    log.info({ imDelete: { roomId, removed } }, 'im.delete: DM purged')
    await Promise.all(this.#options.onAfterPurge.map(async (hook) => { await this.#run(log, roomId, 'onAfterPurge', () => hook({ roomId, removed })) }))
  }

  #track (task: Promise<void>): void {
    this.#pending.add(task)
    task.finally(() => this.#pending.delete(task))
  }
}
