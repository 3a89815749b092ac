import { logFailure, type Logger } from './log.js'
import type { DurableBlobs, PendingBlob } from './store.js'
import type { Upload } from './types.js'

/**
 * How failing blob removals are retried: sweeps of every pending removal, the pause between two
 * failing sweeps doubling from `first` to `longest` (ms); a blob still failing `giveUpAfter` ms
 * after its erase is given up (logged at error level, forgotten). With nothing failing, one sweep
 * every `longest` ms finishes what other processes left. `page`: removals read at a time.
 */
const BLOB_RETRY = { first: 1000, longest: 300_000, giveUpAfter: 86_400_000, page: 100 }

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

/**
 * Blob removals on a store that records them: each batch is tried right after its erase (or
 * purge step) commits, and again by sweeps (the first when the server is ready: what a crash
 * left) until it succeeds. What succeeded is forgotten in one call per batch. A blob may be
 * removed more than once (a sweep of another process, a row not yet forgotten).
 */
export class BlobRemovals {
  readonly #blobs: DurableBlobs
  readonly #remove: (upload: Upload) => Promise<void>
  readonly #inFlight = new Set<string>()
  #log: Logger | undefined
  #timer: NodeJS.Timeout | undefined
  #due = Infinity
  #pause = BLOB_RETRY.first
  #failed = false
  #sweeping: Promise<void> | undefined
  #stopped = false
  /** Removals started by `removeLater` and not yet settled, and how many uploads they hold. */
  readonly #later = new Set<Promise<void>>()
  #queued = 0
  /** Recorded removals left to a sweep while the queue was full. */
  #backlog = false
  /** Uploads whose blobs may wait in memory for `removeLater`; past it they wait in the store, for a sweep. */
  readonly #queueLimit: number

  constructor (blobs: DurableBlobs, remove: (upload: Upload) => Promise<void>, queueLimit: number) {
    this.#blobs = blobs
    this.#remove = remove
    this.#queueLimit = queueLimit
  }

  /** Right after the erase: removes the blobs and forgets those removed; a sweep retries the others. */
  async removeNow (uploads: readonly Upload[], log: Logger, roomId: string): Promise<void> {
    if (uploads.length === 0) return
    for (const upload of uploads) this.#inFlight.add(upload._id)
    const done: string[] = []
    try {
      await Promise.all(uploads.map(async (upload) => {
        try {
          await this.#remove(upload)
          done.push(upload._id)
        } catch (err) {
          logFailure(log, err, { roomId, uploadId: upload._id }, 'im.delete: fileStore.remove failed after the erase')
          this.#failed = true
        }
      }))
      if (done.length > 0) await this.#blobs.removed(done)
    } catch (err) {
      // Still recorded: a sweep removes them again (a removed blob counts as removed) and forgets them.
      logFailure(log, err, { roomId, removed: done.length }, 'im.delete: removed blobs could not be forgotten; a sweep retries')
      this.#failed = true
    } finally {
      for (const upload of uploads) this.#inFlight.delete(upload._id)
    }
    if (this.#failed) this.#schedule(this.#pause)
  }

  /**
   * After a purge step: the same as `removeNow`, not waited for, while fewer than the queue limit's uploads
   * wait in memory; past that, left in the store for a sweep once the queue has drained. The
   * purge never waits for blob storage, and memory does not grow with the DM.
   */
  removeLater (uploads: readonly Upload[], log: Logger, roomId: string): void {
    if (this.#queued >= this.#queueLimit) {
      this.#backlog = true
      return
    }
    this.#queued += uploads.length
    const task = this.removeNow(uploads, log, roomId).finally(() => {
      this.#later.delete(task)
      this.#queued -= uploads.length
      if (this.#queued === 0 && this.#backlog) this.#schedule(0)
    })
    this.#later.add(task)
  }

  /** Sweeps now, and from then on as the schedule says, until `stop()`. */
  start (log: Logger): void {
    this.#log = log
    this.#schedule(0)
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await Promise.all([this.#sweeping, ...this.#later])
  }

  /** Sweeps in `ms`, unless one is due sooner or is running (its end schedules the next). */
  #schedule (ms: number): void {
    if (this.#stopped || this.#sweeping !== undefined || Date.now() + ms >= this.#due) return
    clearTimeout(this.#timer)
    this.#due = Date.now() + ms
    this.#timer = setTimeout(() => {
      this.#due = Infinity
      // This sweep takes what was left to the store so far; more left meanwhile needs another, at once.
      this.#backlog = false
      this.#sweeping = this.#sweep().finally(() => {
        this.#sweeping = undefined
        // Failing: back off; clean: a slow sweep for what other processes leave, or at once when
        // removals were left to the store while this one ran.
        const next = this.#failed ? this.#pause : this.#backlog ? 0 : BLOB_RETRY.longest
        this.#pause = this.#failed ? Math.min(this.#pause * 2, BLOB_RETRY.longest) : BLOB_RETRY.first
        this.#schedule(next)
      })
    }, ms)
    // Pending removals never keep a process alive: they are in the database.
    this.#timer.unref()
  }

  async #sweep (): Promise<void> {
    const log = this.#log as Logger
    this.#failed = false
    const failures: unknown[] = []
    try {
      let after: string | undefined
      for (;;) {
        const page = await this.#blobs.pending(BLOB_RETRY.page, after)
        const done: string[] = []
        await Promise.all(page.filter(({ upload }) => !this.#inFlight.has(upload._id)).map(async (pending) => {
          const failure = await this.#retry(pending, log)
          if (failure === undefined) done.push(pending.upload._id)
          else failures.push(failure)
        }))
        if (done.length > 0) await this.#blobs.removed(done)
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
  async #retry ({ upload, erasedAt }: PendingBlob, log: Logger): Promise<unknown> {
    try {
      await this.#remove(upload)
    } catch (err) {
      if (Date.now() - erasedAt.getTime() < BLOB_RETRY.giveUpAfter) return err
      logFailure(log, err, { uploadId: upload._id, erasedAt }, 'im.delete: blob removal given up; remove this upload\'s blob by hand')
    }
  }
}
