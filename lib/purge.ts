import { setTimeout as sleep } from 'node:timers/promises'
import { logFailure, type Logger } from './log.js'
import type { PurgeStep, PurgeSteps } from './store.js'
import type { RemovedCounts, Upload } from './types.js'

/** How a big erase is finished behind its answer. */
export interface PurgeSettings {
  /** The most rows of each kind one step removes in one short transaction; a DM holding fewer is erased whole, before its answer. */
  batchSize: number
  /** Milliseconds to wait between two steps (0: none, only a turn of the event loop). */
  pause: number
  /** The most file blob removals in flight at once, in this process. */
  blobConcurrency: number
  /** Milliseconds between two looks for purges another process (or a crash) left, while none is pending here. */
  poll: number
}

export const PURGE_DEFAULTS: PurgeSettings = { batchSize: 5000, pause: 0, blobConcurrency: 16, poll: 10_000 }
/** After a failed step (the database away): the first wait, doubling up to the longest. */
const RETRY = { first: 1000, longest: 60_000 }

export interface PurgeRunnerOptions {
  steps: PurgeSteps
  settings: PurgeSettings
  /** Whether each step records the uploads it removes as pending blob removals. */
  recordBlobs: boolean
  /** Whether anything reads the upload records a step removed (a file store). */
  documents: boolean
  /** Removes the blobs of a step's uploads (after its commit); never rejects. */
  removeBlobs: (uploads: Upload[], roomId: string, log: Logger) => Promise<void>
  /** Told once a purge is finished, in the process that finished it; never rejects. */
  finished: (roomId: string, removed: RemovedCounts, log: Logger) => Promise<void>
}

/**
 * Steps the pending purges, one step at a time, until none is left; then looks again now and
 * then (a purge another process left). Any number of processes may run one: the store hands each
 * step's rows to one caller. A step's blobs are removed while the next step runs, no further ahead.
 */
export class PurgeRunner {
  readonly #options: PurgeRunnerOptions
  #log: Logger | undefined
  #running: Promise<void> | undefined
  #again = false
  #timer: NodeJS.Timeout | undefined
  #retry = RETRY.first
  #stopped = false

  constructor (options: PurgeRunnerOptions) {
    this.#options = options
  }

  start (log: Logger): void {
    this.#log = log
    this.wake()
  }

  /** Steps now (or right after the run in progress): a purge was just recorded. */
  wake (): void {
    // Once stopped, a run ends before its first step (and sets no timer): no check here.
    if (this.#running !== undefined) {
      this.#again = true
      return
    }
    clearTimeout(this.#timer)
    // Started (`start`) before any erase can wake it: the plugin serves once ready.
    this.#running = this.#run(this.#log as Logger).finally(() => {
      this.#running = undefined
      if (this.#again) this.wake()
    })
  }

  /** Stops after the step in progress and its blobs. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
  }

  async #run (log: Logger): Promise<void> {
    const { steps, settings, recordBlobs, documents, removeBlobs, finished } = this.#options
    this.#again = false
    let blobs: Promise<void> = Promise.resolve()
    let next = settings.poll
    try {
      for (;;) {
        if (this.#stopped) break
        let step: PurgeStep | null
        try {
          step = await steps.step({ batchSize: settings.batchSize, recordBlobs, documents })
        } catch (err) {
          logFailure(log, err, { retryIn: this.#retry }, 'im.delete: a purge step failed; retried later')
          next = this.#retry
          this.#retry = Math.min(this.#retry * 2, RETRY.longest)
          break
        }
        this.#retry = RETRY.first
        if (step === null) break
        // The previous step's blobs first: at most two steps' uploads are held at once.
        await blobs
        const { roomId, uploads, finished: removed } = step
        blobs = removeBlobs(uploads, roomId, log)
        if (removed !== null) {
          await blobs
          await finished(roomId, removed, log)
        }
        // A turn of the event loop at least: requests are answered between steps.
        await (settings.pause > 0 ? sleep(settings.pause) : new Promise(setImmediate))
      }
    } finally {
      await blobs
    }
    if (this.#stopped || this.#again) return
    this.#timer = setTimeout(() => { this.wake() }, next)
    // Pending purges never keep a process alive: they are in the store.
    this.#timer.unref()
  }
}
