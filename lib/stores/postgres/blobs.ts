// Blob removals that outlive the process: the erase records each removed upload in
// `pending_blobs` (migration 4) in its own transaction; the plugin removes the blob after the
// commit, and again after a restart, and deletes the row once the file store has succeeded.
import type { PendingBlob } from '../../store.js'
import type { Sql } from './driver.js'

/**
 * The erase's clause recording the uploads its `gone` removed, so that a crash after the commit
 * cannot lose them; an upload id already pending keeps its first row. (A purge step records
 * its own in migration 6's `purge_step`.)
 */
export const recordPending = (table: (name: string) => string): string =>
  `pending AS (INSERT INTO ${table('pending_blobs')} (upload_id, doc) SELECT _id, doc FROM gone ON CONFLICT (upload_id) DO NOTHING)`

/** Up to `limit` pending removals with an upload id after `after`, by upload id. */
export async function pendingBlobs (sql: Sql, table: (name: string) => string, decode: (text: string) => any, limit: number, after: string): Promise<PendingBlob[]> {
  const { rows } = await sql.query(
    // In the primary key's order: each page one index range scan, however many are pending.
    `SELECT doc::text AS doc, erased_at FROM ${table('pending_blobs')} WHERE upload_id > $1 ORDER BY upload_id LIMIT $2`,
    [after, limit])
  return rows.map((row) => ({ upload: decode(row.doc), erasedAt: new Date(row.erased_at) }))
}

export async function blobsRemoved (sql: Sql, table: (name: string) => string, uploadIds: readonly string[]): Promise<void> {
  await sql.query(`DELETE FROM ${table('pending_blobs')} WHERE upload_id = ANY($1::text[])`, [uploadIds])
}
