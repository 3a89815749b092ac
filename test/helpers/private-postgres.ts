// A PostgreSQL cluster of the test's own, on a free port under a temporary directory: the one
// kind a test may restart or stop (the shared server on 5432 serves everyone else's tests).
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'

const run = promisify(execFile)

interface Tap {
  comment: (message: string) => void
  fail: (message: string) => void
  teardown: (fn: () => Promise<void>) => void
}

export interface Cluster {
  url: string
  /** SQL on the cluster through a pool of the test's own. */
  query: (text: string, params?: unknown[]) => Promise<{ rows: any[] }>
  /** `pg_ctl restart -m fast`: every connection is ended, the server is back when this resolves. */
  restart: () => Promise<void>
  stop: () => Promise<void>
  start: () => Promise<void>
}

/** A port nobody listens on right now. */
export async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => { probe.listen(0, '127.0.0.1', resolve) })
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => { probe.close(resolve) })
  return port
}

function binaries (): string | null {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const newest = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0]
  const bin = newest === undefined ? '' : join(root, newest, 'bin')
  return existsSync(join(bin, 'initdb')) ? bin : null
}

/** A private cluster, stopped and removed at teardown; null (said why) when this machine has no PostgreSQL binaries. */
export async function privateCluster (t: Tap): Promise<Cluster | null> {
  const bin = binaries()
  if (bin === null) {
    const reason = 'no PostgreSQL binaries under /usr/lib/postgresql/*/bin'
    if (process.env.CI !== undefined && process.env.CI !== '') t.fail(`CI needs a private PostgreSQL cluster: ${reason}`)
    else t.comment(`Private PostgreSQL cluster runs not done: ${reason}`)
    return null
  }
  // initdb refuses to run as root: the cluster then belongs to the postgres OS user.
  const asRoot = process.getuid?.() === 0
  const as = async (command: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]] : [join(bin, command), args]
    await run(file, argv)
  }
  const dir = await mkdtemp(join(tmpdir(), 'im-delete-pg-'))
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    await chown(dir, Number(stdout.trim()), -1)
  }
  const data = join(dir, 'data')
  const port = await freePort()
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'])
  const ctl = async (...args: string[]): Promise<void> => {
    await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60',
      '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, ...args])
  }
  await ctl('start')
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 5000 })
  pool.on('error', () => {})
  t.teardown(async () => {
    await pool.end()
    await ctl('-m', 'immediate', 'stop').catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return {
    url,
    query: async (text, params) => await pool.query(text, params),
    restart: async () => { await ctl('-m', 'fast', 'restart') },
    stop: async () => { await ctl('-m', 'fast', 'stop') },
    start: async () => { await ctl('start') }
  }
}
