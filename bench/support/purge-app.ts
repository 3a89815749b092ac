import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import imDeletePlugin, { type ImDeleteStore, type RemovedCounts } from '../../index.js'

export interface PurgeApp {
  app: FastifyInstance
  /** Settles when `onAfterPurge` is called: when, and what the whole erase removed. */
  purged: Promise<{ at: number, removed: RemovedCounts }>
  /** Blobs removed so far, and the most removals that were in flight at once. */
  blobs: { removed: number, peak: number }
}

/**
 * The plugin with its defaults (rate limit off, users may delete DMs) over `store`, as the purge
 * benchmarks run it; with `files`, a file store whose removals take 1 ms each, counted.
 */
export async function purgeApp (store: ImDeleteStore, { files }: { files: boolean }): Promise<PurgeApp> {
  const blobs = { removed: 0, peak: 0 }
  let inFlight = 0
  let done: (value: { at: number, removed: RemovedCounts }) => void = () => {}
  const purged = new Promise<{ at: number, removed: RemovedCounts }>((resolve) => { done = resolve })
  const app = Fastify()
  await app.register(imDeletePlugin, {
    store,
    rateLimit: false,
    permissions: { 'delete-d': ['admin', 'user'] },
    fileStore: !files
      ? undefined
      : {
          async remove () {
            blobs.peak = Math.max(blobs.peak, ++inFlight)
            await sleep(1)
            inFlight--
            blobs.removed++
          }
        },
    onAfterPurge: ({ removed }) => { done({ at: performance.now(), removed }) }
  })
  return { app, purged, blobs }
}
