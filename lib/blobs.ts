import type { FastifyBaseLogger } from 'fastify'
import { logFailure } from './log.js'
import type { ImDeleteStore, PendingBlob } from './store.js'
import type { Upload } from './types.js'

/**
 * How failing blob removals are retried: sweeps of every pending removal, the pause between two
 * failing sweeps doubling from `first` to `longest` (ms); a blob still failing `giveUpAfter` ms
 * after its erase is given up (logged at error level, forgotten). With nothing failing, one sweep
 * every `longest` ms finishes what other processes left. `page`: removals read at a time.
 */
export const BLOB_RETRY = { first: 1000, longest: 300_000, giveUpAfter: 86_400_000, page: 100 }

/** At most `limit` tasks at once; the others wait their turn, in order. */
export class Concurrency {
  readonly #limit: number
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor (limit: number) {
    this.#limit = limit
  }

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.#active < this.#limit) this.#active++
    else await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
    try {
      return await task()
    } finally {
      // The slot goes straight to the next task waiting, if any.
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#active--
    }
  }
}

/** A store that keeps blob removals across restarts (PostgresStore does). */
export type DurableBlobStore = ImDeleteStore & Required<Pick<ImDeleteStore, 'pendingBlobs' | 'blobRemoved'>>

export function keepsBlobs (store: ImDeleteStore): store is DurableBlobStore {
  return typeof store.pendingBlobs === 'function' && typeof store.blobRemoved === 'function'
}

/**
 * Blob removals on a store that records them: each is tried right after its erase commits, and
 * again by sweeps (the first when the server is ready: what a crash left) until it succeeds.
 * A blob may be removed more than once (a sweep of another process, a row not yet forgotten).
 */
export class BlobRemovals {
  readonly #store: DurableBlobStore
  readonly #remove: (upload: Upload) => Promise<void>
  readonly #inFlight = new Set<string>()
  #log: FastifyBaseLogger | undefined
  #timer: NodeJS.Timeout | undefined
  #due = Infinity
  #pause = BLOB_RETRY.first
  #failed = false
  #sweeping: Promise<void> | undefined
  #stopped = false

  constructor (store: DurableBlobStore, remove: (upload: Upload) => Promise<void>) {
    this.#store = store
    this.#remove = remove
  }

  /** Right after the erase: removes the blob and forgets it; on failure, a sweep retries it. */
  async removeNow (upload: Upload, log: FastifyBaseLogger, roomId: string): Promise<void> {
    this.#inFlight.add(upload._id)
    try {
      await this.#remove(upload)
      await this.#store.blobRemoved(upload._id)
    } catch (err) {
      logFailure(log, err, { roomId, uploadId: upload._id }, 'im.delete: fileStore.remove failed after the erase')
      this.#failed = true
      this.#schedule(this.#pause)
    } finally {
      this.#inFlight.delete(upload._id)
    }
  }

  /** Sweeps now, and from then on as the schedule says, until `stop()`. */
  start (log: FastifyBaseLogger): void {
    this.#log = log
    this.#schedule(0)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#sweeping
  }

  /** Sweeps in `ms`, unless one is due sooner or is running (its end schedules the next). */
  #schedule (ms: number): void {
    if (this.#stopped || this.#sweeping !== undefined || Date.now() + ms >= this.#due) return
    clearTimeout(this.#timer)
    this.#due = Date.now() + ms
    this.#timer = setTimeout(() => {
      this.#due = Infinity
      this.#sweeping = this.#sweep().finally(() => {
        this.#sweeping = undefined
        // Failing: back off; clean: a slow sweep for what other processes leave.
        const next = this.#failed ? this.#pause : BLOB_RETRY.longest
        this.#pause = this.#failed ? Math.min(this.#pause * 2, BLOB_RETRY.longest) : BLOB_RETRY.first
        this.#schedule(next)
      })
    }, ms)
    // Pending removals never keep a process alive: they are in the database.
    this.#timer.unref()
  }

  async #sweep (): Promise<void> {
    const log = this.#log as FastifyBaseLogger
    this.#failed = false
    const failures: unknown[] = []
    try {
      let after: string | undefined
      for (;;) {
        const page = await this.#store.pendingBlobs(BLOB_RETRY.page, after)
        await Promise.all(page.filter(({ upload }) => !this.#inFlight.has(upload._id)).map(async (pending) => {
          const failure = await this.#retry(pending, log)
          if (failure !== undefined) failures.push(failure)
        }))
        if (page.length < BLOB_RETRY.page || this.#stopped) break
        after = page[page.length - 1].upload._id
      }
    } catch (err) {
      failures.push(err)
    }
    if (failures.length > 0) {
      this.#failed = true
      logFailure(log, failures[0], { failed: failures.length, retryIn: this.#pause }, 'im.delete: pending blob removals failed; retried later')
    }
  }

  /** One pending removal: undefined once done (or given up), else what failed. */
  async #retry ({ upload, erasedAt }: PendingBlob, log: FastifyBaseLogger): Promise<unknown> {
    try {
      await this.#remove(upload)
    } catch (err) {
      if (Date.now() - erasedAt.getTime() < BLOB_RETRY.giveUpAfter) return err
      logFailure(log, err, { uploadId: upload._id, erasedAt }, 'im.delete: blob removal given up; remove this upload\'s blob by hand')
    }
    await this.#store.blobRemoved(upload._id)
  }
}
