import { fork, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'

interface Tap {
  teardown: (fn: () => Promise<void>) => void
}

export interface Child {
  base: string
  process: ChildProcess
  /** How it ended: exit code and signal. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Rejects after `ms` unless `promise` settled first. */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  const timer = new AbortController()
  try {
    return await Promise.race([promise, sleep(ms, undefined, { signal: timer.signal }).then(() => { throw new Error(`${what}: not within ${ms} ms`) })])
  } finally {
    timer.abort()
  }
}

/** Forks a server process (`script` reports `{ address }` once listening) and waits for it; killed at teardown if still running. */
export async function startServer (t: Tap, script: string, env: Record<string, string>, bound = 60_000): Promise<Child> {
  // The child runs TypeScript the way the test does (fork passes on execArgv): under tap, its
  // loader, so the coverage the child records maps onto the same lines; alone, `--import tsx`.
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    // stdout stays out of the TAP stream; stderr shows what a crashing child says.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const address = await within(bound, 'a server process listening', new Promise<string>((resolve, reject) => {
    child.once('message', (message: { address: string }) => { resolve(message.address) })
    exited.then(({ code }) => { reject(new Error(`the server process exited (${code}) before listening`)) }, () => {})
  }))
  return { base: address, process: child, exited }
}

/**
 * In the server process: listens on a free port, reports `{ address }` to the parent, and on
 * SIGTERM, or when the parent goes away, closes the app (and what its onClose hooks close).
 */
export async function listenForParent (app: { listen: (options: { port: number, host: string }) => Promise<string>, close: () => Promise<unknown> }): Promise<void> {
  // Bounded in time whatever happens: never outlives a test that lost track of it.
  setTimeout(() => { process.exit(2) }, 120_000).unref()
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.send?.({ address })
  let closing: Promise<void> | undefined
  const shutdown = (): void => {
    closing ??= app.close().then(() => { if (process.connected) process.disconnect() })
  }
  process.once('SIGTERM', shutdown)
  process.once('disconnect', shutdown)
}
