import Fastify from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import imDeletePlugin, { type Room } from '../index.js'
import { PostgresStore, SCHEMA_VERSION } from '../postgres.js'
import { explainLookup } from '../bench/support/explain.js'
import { ALICEBOB_TREE, authHeaders, fixture } from './helpers/fixture.js'
import { SERVER_URL, backends, blockedBy, poolOver, type Backend } from './helpers/postgres.js'

/** Makes every DELETE on one table of the schema fail, until the returned function is called. */
async function refuseDeletes (query: Backend['query'], schema: string, table: string): Promise<() => Promise<void>> {
  await query(`CREATE OR REPLACE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`)
  await query(`CREATE TRIGGER refuse BEFORE DELETE ON ${schema}.${table} FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.refuse()`)
  return async () => { await query(`DROP TRIGGER refuse ON ${schema}.${table}`) }
}

/** Every node of an `EXPLAIN (FORMAT JSON)` plan. */
function nodes (plan: any): any[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

const all = await backends(t)

t.test('options', async (t) => {
  t.throws(() => new PostgresStore({} as any), { name: 'TypeError', message: /exactly one of .*got none/ }, 'no database')
  t.throws(() => new PostgresStore({ connectionString: SERVER_URL, pglite: {} } as any), { message: /got connectionString, pglite/ }, 'two databases')
  t.throws(() => new PostgresStore({ connectionString: SERVER_URL, schema: '' }), { name: 'TypeError', message: /schema/ }, 'an empty schema name')
  t.throws(() => new PostgresStore({ connectionString: SERVER_URL, preparedStatements: 'no' as any }), { name: 'TypeError', message: /preparedStatements/ }, 'preparedStatements not a boolean')
})

for (const backend of all) {
  const on = (title: string, fn: (t: Test, backend: Backend) => Promise<void>): void => {
    t.test(`${backend.name}: ${title}`, async (t) => { await fn(t, backend) })
  }

  on('close() leaves a database it was given open', async (t, { options, query }) => {
    await new PostgresStore(options).close()
    t.same((await query('SELECT 1 AS one')).rows, [{ one: 1 }])
  })

  on('migrate() creates the schema and is safe to run again', async (t, { fresh }) => {
    const { store, teardown } = await fresh(false)
    t.teardown(teardown)
    t.equal(await store.schemaVersion(), 0, 'nothing before the first migrate()')
    await store.migrate()
    t.equal(await store.schemaVersion(), SCHEMA_VERSION, 'the newest version')
    await store.import(fixture())
    const before = await store.dump()
    await store.migrate()
    t.equal(await store.schemaVersion(), SCHEMA_VERSION, 'still the newest version')
    t.same(await store.dump(), before, 'the data is untouched')
  })

  on('a schema name that needs quoting works', async (t, { options, query }) => {
    const schema = `Odd "name" ${process.pid}`
    t.teardown(async () => { await query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`) })
    const store = new PostgresStore({ ...options, schema })
    await store.migrate()
    t.equal(await store.schemaVersion(), SCHEMA_VERSION, 'migrated')
    await store.import(fixture())
    t.equal((await store.findRoomById('alicebob'))?._id, 'alicebob', 'used')
  })

  on('migrate() upgrades a schema of an older version, data and all', async (t, { fresh }) => {
    const { store, teardown } = await fresh(false)
    t.teardown(teardown)
    await store.migrate({ to: 1 })
    t.equal(await store.schemaVersion(), 1, 'stopped at version 1')
    await store.import(fixture())
    const before = await store.dump()
    await store.migrate()
    t.equal(await store.schemaVersion(), SCHEMA_VERSION, 'upgraded')
    t.same(await store.dump(), before, 'the data is untouched')
    t.equal((await store.findDirectRoom(['bob', 'alice']))?._id, 'alicebob', 'lookups work on the upgraded schema')
  })

  on('migrate() from version 2 to 3 keeps rows orphaned before it, and checks every row written after', async (t, { fresh, query }) => {
    const { store, schema, teardown } = await fresh(false)
    t.teardown(teardown)
    await store.migrate({ to: 2 })
    await store.import(fixture())
    // What an older release let through: rows whose room is gone.
    await query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ('old-orphan', 'gone', '{"_id":"old-orphan","rid":"gone"}')`)
    await query(`INSERT INTO ${schema}.rooms (_id, t, prid, doc) VALUES ('old-disc', 'p', 'gone', '{"_id":"old-disc","t":"p","prid":"gone"}')`)
    const before = await store.dump()
    await store.migrate({ to: 3 })
    t.equal(await store.schemaVersion(), 3, 'upgraded')
    t.same(await store.dump(), before, 'the data is untouched, orphans included')
    const { rows: keys } = await query(
      `SELECT conname AS name, convalidated AS validated FROM pg_constraint
       WHERE contype = 'f' AND confrelid = $1::regclass ORDER BY conname`, [`${schema}.rooms`])
    t.same(keys, [
      'messages_rid_fkey', 'read_receipts_rid_fkey', 'rooms_prid_fkey', 'subscriptions_rid_fkey', 'uploads_rid_fkey'
    ].map((name) => ({ name, validated: false })), 'a key from each room-owned table and from discussions, not yet validated')
    await t.rejects(query(`INSERT INTO ${schema}.messages (_id, rid, doc) VALUES ('new-orphan', 'gone', '{}')`),
      { code: '23503', constraint: 'messages_rid_fkey' }, 'a new orphan is refused, whoever writes it')
    await t.rejects(store.import({ rooms: [{ _id: 'new-room', t: 'c' }], uploads: [{ _id: 'new-orphan', rid: 'gone' }] }), {
      message: "PostgresStore: a document in 'uploads' names a room (rid) that is neither in the store nor in this import; nothing was imported (Key (rid)=(gone) is not present in table \"rooms\".)",
      cause: { code: '23503' },
      code: 'FST_IM_DELETE_UNKNOWN_ROOM'
    }, 'import says which collection and which room')
    await store.migrate()
    t.equal(await store.findRoomById('new-room'), null, 'and adds nothing')
    t.equal((await store.eraseRoom('alicebob'))?.removed.discussions, 2, 'a DM with discussions is erased under the keys')
    t.equal((await store.eraseRoom('old-disc'))?.removed.discussions, 0, 'an orphaned discussion can still be erased')
  })

  on('migrate() from version 3 adds the pending blob removals; an erase asked to records its uploads there', async (t, { fresh }) => {
    const { store, teardown } = await fresh(false)
    t.teardown(teardown)
    await store.migrate({ to: 3 })
    await store.import(fixture())
    const before = await store.dump()
    await store.migrate()
    t.equal(await store.schemaVersion(), SCHEMA_VERSION, 'upgraded')
    t.same(await store.dump(), before, 'the data is untouched')
    t.same(await store.blobs.pending(10), [], 'nothing pending')
    const started = Date.now()
    t.same((await store.eraseRoom('alicebob', { recordBlobs: true }))?.uploads.map(({ _id }) => _id), ALICEBOB_TREE.uploads, 'the erase returns its uploads')
    t.same((await store.eraseRoom('adminalice'))?.removed.uploads, 0, 'an erase not asked to records nothing')
    const pending = await store.blobs.pending(10)
    t.same(pending.map(({ upload }) => upload), fixture().uploads.filter(({ _id }) => ALICEBOB_TREE.uploads.includes(_id)), 'each removed upload, whole, by _id')
    t.ok(pending.every(({ erasedAt }) => erasedAt instanceof Date && erasedAt.getTime() >= started - 60_000), 'with when it was erased')
    t.same((await store.blobs.pending(1, 'up-ab-1')).map(({ upload }) => upload._id), ['up-ab-orphan'], 'a page after an upload id')
    await store.blobs.removed(['up-ab-orphan', 'no-such-upload'])
    t.same((await store.blobs.pending(10)).map(({ upload }) => upload._id), ['up-ab-1', 'up-d11-1'], 'a removed blob is forgotten')
  })

  on('an import error other than a missing room is passed on as it is', async (t, { fresh }) => {
    const { store, teardown } = await fresh()
    t.teardown(teardown)
    await store.import(fixture())
    await t.rejects(store.import({ users: [{ _id: 'alice-2', username: 'alice' }] }), { code: '23505' }, 'a username taken twice')
  })

  on('two processes migrating at once both succeed', async (t, { fresh, options }) => {
    const { store, schema, teardown } = await fresh(false)
    t.teardown(teardown)
    await Promise.all([store.migrate(), new PostgresStore({ ...options, schema }).migrate()])
    t.equal(await store.schemaVersion(), SCHEMA_VERSION)
  })

  on('migrate() refuses a version it does not know, and a schema newer than itself', async (t, { fresh, query }) => {
    const { store, schema, teardown } = await fresh()
    t.teardown(teardown)
    for (const to of [-1, 1.5, SCHEMA_VERSION + 1]) await t.rejects(store.migrate({ to }), RangeError, `to: ${to}`)
    await t.rejects(store.migrate({ to: -1 }), { code: 'FST_IM_DELETE_MIGRATE_VERSION' }, 'coded')
    await query(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [SCHEMA_VERSION + 1])
    await t.rejects(store.migrate(), { message: /newer than this release/, code: 'FST_IM_DELETE_SCHEMA_TOO_NEW' }, 'a schema from a later release')
  })

  on('finding a room by id (alone or with the key\'s user and subscription) or a DM by its members is an index scan', async (t, { fresh, query }) => {
    const { store, schema, teardown } = await fresh()
    t.teardown(teardown)
    // Enough rooms that the planner chooses by real row counts, not because the table is tiny.
    const rooms: Room[] = Array.from({ length: 10_000 }, (_, i) => ({ _id: `room-${i}`, t: 'd', uids: [`user-${i}`, `user-${i + 1}`] }))
    await store.import({ rooms })
    await query(`ANALYZE ${schema}.rooms`)
    // The statements' own parameters: findDirectRoom's member ids sorted, as the store sends them.
    for (const [method, params] of [['findRoomById', ['room-12345']], ['findNamed', ['room-12345', 'user-12345']], ['findDirectRoom', [['user-12345', 'user-12346']]]] as const) {
      const [{ Plan: plan }] = await explainLookup({ query }, schema, method, [...params])
      const scans = nodes(plan).filter((node) => node['Relation Name'] === 'rooms').map((node) => node['Node Type'])
      t.same(scans, ['Index Scan'], `${method}: ${scans.join(', ')}`)
    }
    const [{ Plan: measured }] = await explainLookup({ query }, schema, 'findDirectRoom', [['user-1', 'user-2']], { analyze: true })
    t.equal(measured['Actual Rows'], 1, 'EXPLAIN ANALYZE runs the lookup: one room found')
  })

  on('room ids with quotes, backslashes and replacement patterns are erased like any other, with or without documents', async (t, { fresh }) => {
    const { store, teardown } = await fresh()
    t.teardown(teardown)
    const odd = ["it's", 'back\\slash', '"dq"', '$& $1::text[]', "'); DROP TABLE rooms; --"]
    for (const documents of [false, true]) {
      const rid = odd.join(documents ? ' | ' : ' ')
      const disc = `${rid} / discussion`
      await store.import({
        rooms: [{ _id: rid, t: 'd', uids: ['a', 'b'] }, { _id: disc, t: 'p', prid: rid }],
        subscriptions: [{ _id: `${rid} s`, rid, u: { _id: 'a' } }, { _id: `${disc} s`, rid: disc, u: { _id: 'b' } }],
        messages: [{ _id: `${rid} m`, rid }, { _id: `${disc} m`, rid: disc }],
        readReceipts: [{ _id: `${rid} r`, rid, messageId: `${rid} m`, userId: 'b' }]
      })
      const result = await store.eraseRoom(rid, { documents })
      t.same(result?.removed, { messages: 2, subscriptions: 2, uploads: 0, readReceipts: 1, discussions: 1 }, `documents: ${String(documents)}: the counts`)
      t.same(result?.rooms.map((room) => room._id), documents ? [rid, disc] : [], `documents: ${String(documents)}: the rooms handed back`)
      t.equal(await store.findRoomById(rid), null, `documents: ${String(documents)}: the room is gone`)
      t.equal(await store.findRoomById(disc), null, `documents: ${String(documents)}: its discussion too`)
    }
    const dump = await store.dump()
    t.same([dump.rooms, dump.subscriptions, dump.messages, dump.readReceipts].map((docs) => docs.length), [0, 0, 0, 0], 'nothing left, and every table still there')
  })

  on('a statement failing mid-erase leaves every row in place', async (t, { fresh, query }) => {
    const { store, schema, teardown } = await fresh()
    t.teardown(teardown)
    await store.import(fixture())
    const before = await store.dump()
    // Uploads, messages and subscriptions are deleted by then; the read receipts step fails.
    const allow = await refuseDeletes(query, schema, 'read_receipts')
    await t.rejects(store.eraseRoom('alicebob'), { message: /injected failure/ }, 'the erase fails')
    t.same(await store.dump(), before, 'nothing was removed')
    await allow()
    t.equal((await store.eraseRoom('alicebob'))?.removed.messages, 5, 'the store works on afterwards')
  })

  on('serves im.delete through the plugin; a storage failure answers 500 and removes nothing', async (t, { fresh, query }) => {
    const { store, schema, teardown } = await fresh()
    t.teardown(teardown)
    await store.import(fixture())
    const app = Fastify()
    t.teardown(async () => { await app.close() })
    await app.register(imDeletePlugin, { store, rateLimit: false })
    const erase = async (): Promise<{ statusCode: number, body: unknown }> => {
      const response = await app.inject({ method: 'POST', url: '/api/v1/im.delete', headers: authHeaders('admin'), payload: { username: 'alice' } })
      return { statusCode: response.statusCode, body: response.json() }
    }
    const before = await store.dump()
    const allow = await refuseDeletes(query, schema, 'subscriptions')
    t.same(await erase(), { statusCode: 500, body: { success: false, error: 'Internal server error' } }, 'the failure answer')
    t.same(await store.dump(), before, 'nothing was removed')
    await allow()
    t.same(await erase(), { statusCode: 200, body: { success: true } }, 'the DM is erased')
    t.equal(await store.findDirectRoom(['admin', 'alice']), null, 'and gone')
  })
}

t.test('a connection string the store cannot reach: lookups reject, close() ends its pool', async (t) => {
  const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none' })
  await t.rejects(store.findRoomById('alicebob'), { code: 'ECONNREFUSED' })
  await t.rejects(store.eraseRoom('alicebob'), { code: 'ECONNREFUSED' })
  await store.close()
})

t.test('a connection that cannot roll back is destroyed, not returned to the pool', async (t) => {
  const embedded = all[0].options as { pglite: import('@electric-sql/pglite').PGlite }
  const { pool, double } = poolOver(embedded.pglite)
  const schema = `im_delete_test_${process.pid}_rollback`
  const store = new PostgresStore({ pool, schema })
  await store.migrate()
  t.teardown(async () => { await pool.query(`DROP SCHEMA ${schema} CASCADE`) })
  await store.import(fixture())
  const before = await store.dump()
  const restore = await refuseDeletes(async (text, params) => await pool.query(text, params), schema, 'messages')
  double.failNextRollback()
  await t.rejects(store.eraseRoom('alicebob'), { message: /injected failure/ })
  t.equal(double.releases.at(-1), true, 'destroyed')
  await restore()
  t.same(await store.dump(), before, 'nothing erased')
  t.equal((await store.eraseRoom('alicebob'))?.removed.messages, 5, 'the next erase takes a fresh connection')
  t.equal(double.releases.at(-1), false, 'and returns it')
})

const real = all.find((backend) => backend.name === 'PostgreSQL server')
if (real !== undefined) {
  const pool = (real.options as { pool: pg.Pool }).pool

  t.test('PostgreSQL server: a connection killed mid-erase leaves every row in place', async (t) => {
    const { store, schema, teardown } = await real.fresh()
    t.teardown(teardown)
    await store.import(fixture())
    const before = await store.dump()

    // Another session holds a read receipt of the DM: the erase deletes uploads, messages and
    // subscriptions, then waits on that lock with its transaction open.
    const holder = await pool.connect()
    t.teardown(() => { holder.release() })
    const { rows: [{ pid: holderPid }] } = await holder.query('SELECT pg_backend_pid() AS pid')
    await holder.query('BEGIN')
    await holder.query(`SELECT 1 FROM ${schema}.read_receipts WHERE rid = 'alicebob' FOR UPDATE`)
    const erasing = store.eraseRoom('alicebob').then(() => null, (err: Error) => err)

    const blocked = await blockedBy(real.query, holderPid)
    t.match(blocked?.query, /erase_rest/, 'the erase is waiting in its call deleting the rest, at the read receipt held')
    await pool.query('SELECT pg_terminate_backend($1)', [blocked?.pid])
    t.match(await erasing, { code: '57P01' }, 'the erase fails: its connection was terminated')
    await holder.query('ROLLBACK')

    t.same(await store.dump(), before, 'every row is still there')
    t.equal((await store.eraseRoom('alicebob'))?.removed.messages, 5, 'the store works on with a new connection')
  })

  for (const preparedStatements of [true, false]) {
    t.test(`PostgreSQL server: preparedStatements ${String(preparedStatements)}: the fixed statements are ${preparedStatements ? '' : 'not '}prepared on the connection`, async (t) => {
      const { store: loader, schema, teardown } = await real.fresh()
      t.teardown(teardown)
      await loader.import(fixture())
      // One connection: the statements the store prepared are the ones this session lists.
      const one = new pg.Pool({ connectionString: SERVER_URL, max: 1 })
      t.teardown(async () => { await one.end() })
      const store = new PostgresStore({ pool: one, schema, preparedStatements })
      t.equal((await store.findRoomById('alicebob'))?._id, 'alicebob', 'a lookup')
      t.equal((await store.findRoomById('general'))?._id, 'general', 'the same lookup again')
      t.equal((await store.eraseRoom('alicebob', { documents: false }))?.removed.discussions, 2, 'an erase')
      const { rows } = await one.query("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'imdel\\_%'")
      const texts = rows.map((row) => row.statement as string)
      if (preparedStatements) {
        t.equal(rows.length, 3, 'the lookup, the erase\'s tree walk and its call deleting the rest, each prepared once; the uploads delete, unbounded, is planned for its rooms on every call')
        t.ok(texts.every((text) => text.includes(`"${schema}".`)), 'each naming the schema it was made for')
      } else {
        t.same(rows, [], 'none prepared')
      }
    })
  }

  t.test('PostgreSQL server: two stores on different schemas share one connection, each with its own statements', async (t) => {
    const [a, b] = [await real.fresh(), await real.fresh()]
    t.teardown(a.teardown)
    t.teardown(b.teardown)
    await a.store.import(fixture())
    const one = new pg.Pool({ connectionString: SERVER_URL, max: 1 })
    t.teardown(async () => { await one.end() })
    const [onA, onB] = [new PostgresStore({ pool: one, schema: a.schema }), new PostgresStore({ pool: one, schema: b.schema })]
    t.equal((await onA.findRoomById('alicebob'))?._id, 'alicebob', 'found in the schema holding it')
    t.equal(await onB.findRoomById('alicebob'), null, 'not in the empty one, on the same connection')
    t.equal((await onA.findRoomById('alicebob'))?._id, 'alicebob', 'and again in the first')
  })

  t.test('PostgreSQL server: close() ends the pool the store opened', async (t) => {
    const { schema, teardown } = await real.fresh()
    t.teardown(teardown)
    const owned = new PostgresStore({ connectionString: SERVER_URL, schema })
    await owned.import(fixture())
    t.equal((await owned.findRoomById('alicebob'))?._id, 'alicebob', 'works from a connection string')
    await owned.close()
    await t.rejects(owned.findRoomById('alicebob'), Error, 'its own pool is ended')
  })
}
