// Erases too big for one short transaction (migration 5): the erase hides the rooms and records
// a purge (`hide`); steps (migration 6's `purge_step`) then remove the rooms' rows in batches, each step one short transaction,
// until nothing is left and the rooms and the purge row go too.
import type { PurgeStep } from '../../store.js'
import type { RemovedCounts } from '../../types.js'
import { statement, type Runner, type Statement } from './driver.js'

export interface PurgeStatements {
  /** $1 the tree's ids (the room first), $2 the room: marks them purging, removes their subscriptions, records the purge. */
  hide: Statement
  /** $1 the batch size, $2 record blobs, $3 hand the uploads back: the oldest purge no other session is stepping, locked until the step commits, and a batch of each kind of its rows (migration 6). */
  step: Statement
  /** $1 the purge's rooms: them and every discussion below them, locked. */
  lock: Statement
  /** $1 every room of the purge, $2 the rooms new to it, $3 the purge: hides the new ones. */
  widen: Statement
  /** $1 the purge's rooms: whether any row of theirs is left. */
  left: Statement
  /** $1 the purge's rooms, $2 the purge: removes the rooms and forgets the purge, with its counts. */
  finish: Statement
}

export function purgeStatements (table: (name: string) => string): PurgeStatements {
  // Planned for the rooms given on each call, like the erase's deletes: a DM or a tree of hundreds.
  // The step alone is prepared: run thousands of times for one purge (the statements inside it
  // are planned once per connection by PL/pgSQL, each reading at most $1 rows through the rid index).
  const perCall = { prepare: false }
  return {
    hide: statement(
      `WITH hidden AS (UPDATE ${table('rooms')} SET purging = true WHERE _id = ANY($1::text[]) RETURNING _id, doc),
       gone AS (DELETE FROM ${table('subscriptions')} WHERE rid = ANY($1::text[]) RETURNING _id, doc),
       recorded AS (INSERT INTO ${table('purges')} (room_id, room_ids, subscriptions) SELECT $2, $1::text[], count(*) FROM gone)
       SELECT (SELECT coalesce(json_agg(doc ORDER BY array_position($1::text[], _id)), '[]')::text FROM hidden) AS rooms,
              (SELECT coalesce(json_agg(doc ORDER BY _id), '[]')::text FROM gone) AS subscriptions`, perCall),
    step: statement(`SELECT * FROM ${table('purge_step')}($1, $2, $3)`),
    // Discussions started in a purging room after it was hidden are found here, and purged with it.
    lock: statement(
      `WITH RECURSIVE tree (_id) AS (
         SELECT _id FROM ${table('rooms')} WHERE _id = ANY($1::text[])
         UNION
         SELECT r._id FROM ${table('rooms')} r JOIN tree ON r.prid = tree._id
       ) SELECT r._id FROM ${table('rooms')} r WHERE r._id IN (SELECT _id FROM tree) ORDER BY r._id FOR UPDATE OF r`, perCall),
    widen: statement(
      `WITH hidden AS (UPDATE ${table('rooms')} SET purging = true WHERE _id = ANY($2::text[])),
       gone AS (DELETE FROM ${table('subscriptions')} WHERE rid = ANY($2::text[]) RETURNING 1)
       UPDATE ${table('purges')} SET room_ids = $1::text[], subscriptions = subscriptions + (SELECT count(*) FROM gone) WHERE room_id = $3`, perCall),
    left: statement(
      `SELECT EXISTS (SELECT 1 FROM ${table('messages')} WHERE rid = ANY($1::text[]))
           OR EXISTS (SELECT 1 FROM ${table('uploads')} WHERE rid = ANY($1::text[]))
           OR EXISTS (SELECT 1 FROM ${table('read_receipts')} WHERE rid = ANY($1::text[]))
           OR EXISTS (SELECT 1 FROM ${table('subscriptions')} WHERE rid = ANY($1::text[])) AS left`, perCall),
    finish: statement(
      `WITH gone AS (DELETE FROM ${table('rooms')} WHERE _id = ANY($1::text[]) RETURNING 1)
       DELETE FROM ${table('purges')} WHERE room_id = $2
       RETURNING messages::int, subscriptions::int, uploads::int, read_receipts::int`, perCall)
  }
}

/**
 * One step of the oldest purge nobody else is stepping, inside the caller's transaction: a batch
 * of each kind, and, once a batch comes back short, the end: the rooms locked (a writer into them
 * now waits, then fails on its foreign key), any discussion started since hidden too, and, when no
 * row is left, the rooms removed and the purge forgotten.
 */
export async function purgeStep (sql: Runner, statements: PurgeStatements, decode: (text: string) => any, batchSize: number, recordBlobs: boolean, documents: boolean): Promise<PurgeStep | null> {
  const { rows: [batch] } = await sql.run(statements.step, [batchSize, recordBlobs, documents || recordBlobs])
  if (batch.purge_id === null) return null
  const roomId: string = batch.purge_id
  const roomIds: string[] = batch.step_room_ids
  const step: PurgeStep = { roomId, uploads: decode(batch.upload_docs), finished: null }
  if (Math.max(batch.messages, batch.uploads, batch.read_receipts, batch.subscriptions) >= batchSize) return step
  const { rows: locked } = await sql.run(statements.lock, [roomIds])
  const tree = locked.map((row) => row._id as string)
  const added = tree.filter((id) => !roomIds.includes(id))
  if (added.length > 0) {
    await sql.run(statements.widen, [[...roomIds, ...added], added, roomId])
    return step
  }
  const { rows: [{ left }] } = await sql.run(statements.left, [roomIds])
  if (left === true) return step
  const { rows: [counts] } = await sql.run(statements.finish, [roomIds, roomId])
  step.finished = {
    messages: counts.messages,
    subscriptions: counts.subscriptions,
    uploads: counts.uploads,
    readReceipts: counts.read_receipts,
    discussions: tree.filter((id) => id !== roomId).length
  } satisfies RemovedCounts
  return step
}
