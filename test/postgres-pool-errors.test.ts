// A pg pool's 'error' event (an idle connection the server ended) reaches the store's listener,
// on a pool it was given as on one of its own, and close() stops listening on a given pool.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { PostgresStore } from '../postgres.js'
import { SERVER_URL, server } from './helpers/postgres.js'

const real = await server(t)

/** Ends the idle backends of the pools named `name` (this test's own only), then waits for pg to report it. */
async function terminate (name: string, seen: Error[]): Promise<void> {
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  try {
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name])
  } finally {
    await admin.end()
  }
  for (let tries = 0; tries < 500 && seen.length === 0; tries++) await sleep(10)
}

t.test('a given pool: the idle connection error goes to onError, and close() stops listening', async (t) => {
  if (real === null) return
  const name = `im-delete-test-${randomUUID()}`
  const pool = new pg.Pool({ connectionString: `${SERVER_URL}?application_name=${name}` })
  t.teardown(async () => { await pool.end() })
  const seen: Error[] = []
  const store = new PostgresStore({ pool, schema: `im_delete_test_${process.pid}_pool`, onError: (err) => { seen.push(err) } })
  t.equal(pool.listenerCount('error'), 1, 'the store listens on the pool it was given')
  t.equal(await store.schemaVersion(), 0, 'a query leaves a connection idle in the pool')
  await terminate(name, seen)
  t.match(seen, [{ code: '57P01' }], 'the server ending it reaches onError, and nothing crashes')
  t.equal(await store.schemaVersion(), 0, 'the pool opens a new connection')
  await store.close()
  t.equal(pool.listenerCount('error'), 0, 'close() stops listening')
})

t.test('a pool of its own: the same error goes to onError', async (t) => {
  if (real === null) return
  const name = `im-delete-test-${randomUUID()}`
  const seen: Error[] = []
  const store = new PostgresStore({ connectionString: `${SERVER_URL}?application_name=${name}`, onError: (err) => { seen.push(err) } })
  t.teardown(async () => { await store.close() })
  await store.schemaVersion()
  await terminate(name, seen)
  t.match(seen, [{ code: '57P01' }], 'onError is told')
  t.equal(await store.schemaVersion(), 0, 'and the store serves on')
})

t.test('the options onError, lockTimeout and statementTimeout are checked', async (t) => {
  // A connection string the store never connects to: the options are checked in the constructor.
  const db = 'postgres://127.0.0.1:9/never'
  t.throws(() => new PostgresStore({ connectionString: db, onError: 'log' as never }), new TypeError('PostgresStore: the option onError must be a function'))
  t.throws(() => new PostgresStore({ connectionString: db, onError: 'log' as never }), { code: 'FST_IM_DELETE_STORE_OPTION' }, 'coded')
  for (const lockTimeout of [-1, 1.5, '5s']) {
    t.throws(() => new PostgresStore({ connectionString: db, lockTimeout: lockTimeout as number }),
      new TypeError('PostgresStore: the option lockTimeout must be a whole number of milliseconds (0: no bound)'), String(lockTimeout))
  }
  t.throws(() => new PostgresStore({ connectionString: db, statementTimeout: -5 }),
    new TypeError('PostgresStore: the option statementTimeout must be a whole number of milliseconds (0: no bound)'))
  t.doesNotThrow(() => new PostgresStore({ connectionString: db, lockTimeout: 0, statementTimeout: 0 }), '0: no bound')
})
