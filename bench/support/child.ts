import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** What a server child is asked to run (its one command-line argument, as JSON). */
export interface ServerConfig {
  /**
   * `floor`: a bare Fastify route answering `{"success":true}`; `plugin`: the plugin on a memory
   * store; `plugin-noop-store`: the plugin on a store that answers from constants (the plugin's
   * own cost, without any storage work).
   */
  mode: 'floor' | 'plugin' | 'plugin-noop-store' | 'plugin-minimal-store' | 'pg-hand' | 'pg-plugin'
  /** DMs seeded in the memory store (plugin mode). */
  dms: number
  /** Messages per DM. */
  messages: number
  /** bench/pg/http-server.ts: the database, schema and pool the server uses (and how it is named in pg_stat_activity). */
  pg?: { url: string, schema: string, poolSize: number, applicationName: string, preparedStatements: boolean }
}

/** The server child's process figures at one moment. */
export interface Sample {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  /** CPU time the process has used so far (user + system), in ms. */
  cpuMs: number
  /** Of which in the kernel (system), in ms. */
  systemMs: number
  /** A monotonic clock, in ms. */
  atMs: number
  /** Statements the server sent to PostgreSQL so far (bench/pg/http-server.ts only). */
  statements?: number
}

export type ToChild =
  | { type: 'sample', id: number, gc: boolean }
  | { type: 'profile', id: number, action: 'start' | 'stop', file?: string }
  | { type: 'close' }
export type FromChild =
  | { type: 'ready', port: number, seedMs: number, unseededHeapUsed: number, unseededRss: number, usersHeapUsed: number }
  | ({ type: 'sample', id: number } & Sample)
  | { type: 'profile', id: number }

const SERVER = fileURLToPath(new URL('../http/server.ts', import.meta.url))

export interface StartOptions {
  /** The server script to run: another checkout's bench/http/server.ts, to compare a lib/ change with its base. */
  serverFile?: string
}

/** A server under test in its own process: the load generator (this process) never shares its event loop. */
export class ServerChild {
  readonly port: number
  readonly seedMs: number
  /** Heap used (after a forced GC) and RSS before the store was seeded; heap used once only its users were. */
  readonly unseeded: { heapUsed: number, rss: number, usersHeapUsed: number }
  readonly config: ServerConfig
  readonly #child: ChildProcess
  #next = 0

  private constructor (child: ChildProcess, config: ServerConfig, ready: Extract<FromChild, { type: 'ready' }>) {
    this.#child = child
    this.config = config
    this.port = ready.port
    this.seedMs = ready.seedMs
    this.unseeded = { heapUsed: ready.unseededHeapUsed, rss: ready.unseededRss, usersHeapUsed: ready.usersHeapUsed }
  }

  static async start (config: ServerConfig, { serverFile = SERVER }: StartOptions = {}): Promise<ServerChild> {
    const execArgv = ['--import', 'tsx', '--expose-gc', '--max-old-space-size=8192', ...(process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [])]
    const child = fork(serverFile, [JSON.stringify(config)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const ready = await new Promise<Extract<FromChild, { type: 'ready' }>>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code) => reject(new Error(`bench server (${config.mode}) exited with ${String(code)} before it was ready`)))
      child.on('message', function onReady (message: FromChild) {
        if (message.type !== 'ready') return
        child.off('message', onReady)
        child.removeAllListeners('exit')
        resolve(message)
      })
    })
    return new ServerChild(child, config, ready)
  }

  get pid (): number | undefined {
    return this.#child.pid
  }

  /** Process figures of the server; with `gc`, after two forced full collections. */
  async sample (gc = false): Promise<Sample> {
    const { type: _type, id: _id, ...sample } = await this.#ask({ type: 'sample', id: ++this.#next, gc }, 'sample')
    return sample
  }

  /**
   * Starts V8's CPU profiler in the server (the one `node --cpu-prof` runs, at its default
   * 1 ms interval), so that seeding and warm-up stay out of the profile.
   */
  async startProfile (): Promise<void> {
    await this.#ask({ type: 'profile', id: ++this.#next, action: 'start' }, 'profile')
  }

  /** Stops the profiler and writes the `.cpuprofile` to `file`. */
  async stopProfile (file: string): Promise<void> {
    await this.#ask({ type: 'profile', id: ++this.#next, action: 'stop', file }, 'profile')
  }

  async #ask<T extends FromChild['type']> (message: ToChild & { id: number }, answer: T): Promise<Extract<FromChild, { type: T }>> {
    const child = this.#child
    const reply = new Promise<Extract<FromChild, { type: T }>>((resolve) => {
      child.on('message', function onAnswer (received: FromChild) {
        if (received.type !== answer || !('id' in received) || received.id !== message.id) return
        child.off('message', onAnswer)
        resolve(received as Extract<FromChild, { type: T }>)
      })
    })
    child.send(message)
    return await reply
  }

  /** Closes the server and waits for the process to exit. */
  async close (): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = once(this.#child, 'exit')
    this.#child.send({ type: 'close' } satisfies ToChild)
    await exited
  }
}
