// PostgresStore behind a real PgBouncer in transaction pooling mode, as production runs it:
// started here on a free port in front of the shared server (its own config in a temp dir).
// Debian's PgBouncer is 1.18: it does not track prepared statements, so the store must be
// told `preparedStatements: false`; with them on, what breaks is shown below.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t, { type Test } from 'tap'
import { PostgresStore } from '../postgres.js'
import { storeConformance } from '../lib/test-kit/index.js'
import { BODIES, IM_DELETE, DM_DELETE, expectedAfter } from './helpers/app.js'
import { fixture } from './helpers/fixture.js'
import { post } from './helpers/http.js'
import { server, type Backend } from './helpers/postgres.js'
import { firstRunnable, systemProgram } from './helpers/programs.js'
import { served } from './helpers/served.js'
import { sqlTarget } from './helpers/kit-targets.js'

t.setTimeout(180_000)

async function freePort (): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/**
 * A PgBouncer of this test's own in transaction mode, in front of the shared server: database
 * `test` pooled over 4 server connections, `test_one` over a single one (so that which server
 * connection a client gets is known). Stopped at teardown.
 */
async function startPgBouncer (binary: string, upstream: URL): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'imdel-pgbouncer-'))
  const port = await freePort()
  const target = `host=${upstream.hostname} port=${upstream.port || '5432'} dbname=${upstream.pathname.slice(1)} user=${upstream.username}`
  writeFileSync(join(dir, 'users.txt'), `"${upstream.username}" ""\n`)
  writeFileSync(join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `test = ${target} pool_size=4`,
    `test_one = ${target} pool_size=1`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    "unix_socket_dir = ''",
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    'max_client_conn = 500',
    ''
  ].join('\n'))
  // PgBouncer refuses to run as root (CI is root): it drops to the database's OS user.
  const asRoot = process.getuid?.() === 0
  if (asRoot) chmodSync(dir, 0o755)
  const child = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] })
  // Its log goes to stderr: kept to say why, should it not start.
  let log = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { log = (log + chunk).slice(-4000) })
  t.teardown(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  // Ready once it accepts a connection; a bounded wait, nothing asserted on how long it took.
  for (let tries = 0; tries < 200; tries++) {
    const client = new pg.Client({ connectionString: bouncerUrl(port, 'test') })
    try {
      await client.connect()
      await client.end()
      return port
    } catch {
      await client.end().catch(() => {})
      await sleep(50)
    }
  }
  throw new Error(`PgBouncer did not start on port ${port}: ${log}`)
}

const bouncerUrl = (port: number, database: string): string => `postgres://postgres@127.0.0.1:${port}/${database}`

const direct = await server(t)
const binary = systemProgram(t, {
  tests: 'PostgresStore through PgBouncer in transaction mode',
  name: 'PgBouncer',
  // PGBOUNCER_PATH names another binary (or a missing one, to see this test skipped).
  path: firstRunnable(process.env.PGBOUNCER_PATH === undefined ? ['/usr/sbin/pgbouncer', 'pgbouncer'] : [process.env.PGBOUNCER_PATH], ['--version']),
  install: 'apt-get install pgbouncer, or set PGBOUNCER_PATH'
})

if (direct !== null && binary !== null) {
  const upstream = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test')
  const port = await startPgBouncer(binary, upstream)
  const pool = new pg.Pool({ connectionString: bouncerUrl(port, 'test'), max: 10 })
  t.teardown(async () => { await pool.end() })

  // Schemas made and dropped through PgBouncer too; every store on it without prepared statements.
  let schemas = 0
  const bounced: Backend = {
    name: 'PostgreSQL through PgBouncer (transaction mode)',
    query: async (text, params) => await pool.query(text, params),
    options: { pool },
    async fresh (migrate = true) {
      const schema = `im_delete_test_${process.pid}_bouncer_${++schemas}`
      const store = new PostgresStore({ pool, schema, preparedStatements: false })
      if (migrate) await store.migrate()
      return { store, schema, teardown: async () => { await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) } }
    }
  }
  const ownPool = (schema: string): PostgresStore =>
    new PostgresStore({ connectionString: bouncerUrl(port, 'test'), schema, preparedStatements: false })

  await storeConformance(t.test.bind(t), {
    name: 'PostgresStore through PgBouncer, preparedStatements: false',
    create: async () => await sqlTarget(bounced, (options, schema) => new PostgresStore({ ...options, schema, preparedStatements: false })),
    supports: { documents: true }
  })

  t.test('PgBouncer, preparedStatements: false: 100 concurrent deletes of one DM, one erases it', async (t) => {
    const { base, store, erased, close } = await served(t, bounced, fixture(), { store: ownPool })
    const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) =>
      await post(base, i % 2 === 0 ? IM_DELETE : DM_DELETE, 'admin', { roomId: 'alicebob' })))
    t.equal(answers.filter(({ status }) => status === 200).length, 1, 'exactly one 200')
    t.same(answers.filter(({ status, body }) => status !== 200 && body !== BODIES.invalidRoom && body !== BODIES.invalidChannel), [],
      'every other answer is 400 error-invalid-room or invalid-channel')
    t.same(await store.dump(), await expectedAfter(fixture(), 'alicebob'), 'the DM and all it held are gone, nothing else')
    await close()
    t.equal(erased.length, 1, 'the after-erase hook ran once')
  })

  t.test('PgBouncer, preparedStatements: false: the plugin serves lookups and erases from many clients', async (t) => {
    const { base, store, close } = await served(t, bounced, fixture(), { store: ownPool })
    const answers = await Promise.all([
      post(base, IM_DELETE, 'admin', { username: 'alice' }),
      ...Array.from({ length: 20 }, async () => await post(base, IM_DELETE, 'admin', { roomId: 'no-such-room' }))
    ])
    t.same(answers.map(({ status, body }) => `${status} ${body}`),
      [`200 ${BODIES.success}`, ...Array.from({ length: 20 }, () => `400 ${BODIES.invalidChannel}`)], 'one erase, twenty misses')
    t.equal(await store.findDirectRoom(['admin', 'alice']), null, 'the DM with alice is gone')
    await close()
  })

  // Two clients of PgBouncer, each with a pool of one connection of its own, behind one server connection.
  const twoClients = async (t: Test, preparedStatements: boolean): Promise<[PostgresStore, PostgresStore]> => {
    const { store: loader, schema, teardown } = await bounced.fresh()
    t.teardown(teardown)
    await loader.import(fixture())
    const pools = [0, 1].map(() => new pg.Pool({ connectionString: bouncerUrl(port, 'test_one'), max: 1 }))
    t.teardown(async () => { await Promise.all(pools.map(async (p) => await p.end())) })
    return pools.map((p) => new PostgresStore({ pool: p, schema, preparedStatements })) as [PostgresStore, PostgresStore]
  }

  t.test('PgBouncer 1.18, preparedStatements: true: the second client finds the first one\'s statement on its server connection', async (t) => {
    const [a, b] = await twoClients(t, true)
    t.equal((await a.findRoomById('alicebob'))?._id, 'alicebob', 'the first client prepares the lookup and runs it')
    // pg prepares a name once per client connection; PgBouncer gave both clients the same server connection.
    await t.rejects(b.findRoomById('alicebob'), { code: '42P05', message: /prepared statement "imdel_[\w-]+" already exists/ },
      'the second client\'s prepare fails: the statement exists there already')
  })

  t.test('PgBouncer 1.18, preparedStatements: false: both clients are served', async (t) => {
    const [a, b] = await twoClients(t, false)
    t.equal((await a.findRoomById('alicebob'))?._id, 'alicebob', 'the first client')
    t.equal((await b.findRoomById('alicebob'))?._id, 'alicebob', 'the second client, on the same server connection')
    t.equal((await b.eraseRoom('alicebob'))?.removed.discussions, 2, 'an erase by one')
    t.equal(await a.findRoomById('alicebob'), null, 'seen by the other')
  })
}
