// Storage faults on PostgreSQL, through real HTTP: every one answers the spec's 500, leaves the
// data as it was, and the server serves the next request.
import pg from 'pg'
import t, { type Test } from 'tap'
import { PostgresStore } from '../postgres.js'
import { BODIES, IM_DELETE, expectedAfter } from './helpers/app.js'
import { ALICEBOB_TREE, fixture } from './helpers/fixture.js'
import { post } from './helpers/http.js'
import { SERVER_URL, backends, blockedBy, session, type Backend } from './helpers/postgres.js'
import { served, type Served } from './helpers/served.js'

const all = await backends(t)
const real = all.find((backend) => backend.name === 'PostgreSQL server')

const eraseAlicebob = async (s: Served): Promise<{ status: number, body: string }> => {
  const { status, body } = await post(s.base, IM_DELETE, 'admin', { roomId: 'alicebob' })
  return { status, body }
}

/** The failure was logged at error level with the request's id, and answered with nothing of it. */
function loggedOnce (t: Test, s: Served, error: RegExp): void {
  const failures = s.logs.filter((line) => line.msg === 'im.delete: request failed')
  t.equal(failures.length, 1, 'one failure logged')
  t.match(failures[0], { level: 50, reqId: String, err: { message: error } }, 'at error level, with the request id and the cause')
}

/** After the fault: the next erase succeeds, and only then are blobs and hooks run, once. */
async function servesOn (t: Test, s: Served): Promise<void> {
  t.same(await eraseAlicebob(s), { status: 200, body: BODIES.success }, 'the next request erases the DM')
  t.same(await s.dump(), await expectedAfter(fixture(), 'alicebob'), 'and all it held')
  await s.close()
  t.equal(s.erased.length, 1, 'the after-erase hook ran for the erase that committed only')
  t.same(s.removedFiles.sort(), ALICEBOB_TREE.uploads, 'file blobs removed once, after that commit')
}

for (const backend of all) {
  t.test(`${backend.name}: an erase failing at COMMIT answers 500 and leaves everything in place`, async (t) => {
    const s = await served(t, backend, fixture())
    // A deferred constraint trigger runs at COMMIT: every statement of the erase succeeds, the commit fails.
    await backend.query(`CREATE FUNCTION ${s.schema}.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$`)
    await backend.query(`CREATE CONSTRAINT TRIGGER refuse_commit AFTER DELETE ON ${s.schema}.rooms
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${s.schema}.refuse_commit()`)
    const before = await s.dump()
    t.same(await eraseAlicebob(s), { status: 500, body: BODIES.internal }, 'the spec body')
    t.same(await s.dump(), before, 'nothing was removed')
    t.same([s.erased, s.removedFiles], [[], []], 'no file blob removed, no hook run')
    loggedOnce(t, s, /refused at commit/)
    await backend.query(`DROP TRIGGER refuse_commit ON ${s.schema}.rooms`)
    await servesOn(t, s)
  })
}

const onServer = (title: string, fn: (t: Test, real: Backend) => Promise<void>): void => {
  t.test(`PostgreSQL server: ${title}`, async (t) => { if (real !== undefined) await fn(t, real) })
}

onServer('the connection killed while the erase waits on a lock answers 500; data whole; the server serves on', async (t, real) => {
  const s = await served(t, real, fixture(), { store: (schema) => new PostgresStore({ connectionString: SERVER_URL, schema }) })
  const before = await s.dump()
  // Another session holds a read receipt of the DM: the erase deletes uploads, messages and
  // subscriptions, then waits on that lock with its transaction open.
  const holder = await session(t, real)
  await holder.client.query(`SELECT 1 FROM ${s.schema}.read_receipts WHERE rid = 'alicebob' FOR UPDATE`)
  const answer = eraseAlicebob(s)
  const eraser = await blockedBy(real.query, holder.pid)
  t.match(eraser, { query: /erase_rest/ }, 'the erase waits in its call deleting the rest, at the read receipt held')
  await real.query('SELECT pg_terminate_backend($1)', [eraser?.pid])
  t.same(await answer, { status: 500, body: BODIES.internal }, 'the spec body')
  await holder.client.query('ROLLBACK')
  t.same(await s.dump(), before, 'every row is still there')
  loggedOnce(t, s, /terminat/)
  await servesOn(t, s)
})

onServer('an exhausted pool answers 500 without waiting for a connection, and recovers once one is free', async (t, real) => {
  const pool = new pg.Pool({ connectionString: SERVER_URL, max: 1, connectionTimeoutMillis: 300 })
  t.teardown(async () => { await pool.end() })
  const s = await served(t, real, fixture(), { store: (schema) => new PostgresStore({ pool, schema }) })
  const before = await s.dump()
  const hog = await pool.connect()
  // Answered while the only connection is still held: the request gave up on it.
  t.same(await eraseAlicebob(s), { status: 500, body: BODIES.internal }, 'the spec body')
  t.same(await s.dump(), before, 'nothing changed')
  loggedOnce(t, s, /timeout/)
  hog.release()
  await servesOn(t, s)
})
