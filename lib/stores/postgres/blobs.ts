// Blob removals that outlive the process: the erase records each removed upload in
// `pending_blobs` (migration 4) in its own transaction; the plugin removes the blob after the
// commit, and again after a restart, and deletes the row once the file store has succeeded.
import type { PendingBlob } from '../../store.js'
import type { Sql } from './driver.js'

// The erase's uploads step that records them is one of the store's fixed statements (store.ts, eraseStatements).

/** Up to `limit` pending removals with an upload id after `after`, by upload id. */
export async function pendingBlobs (sql: Sql, table: (name: string) => string, decode: (text: string) => any, limit: number, after: string): Promise<PendingBlob[]> {
  const { rows } = await sql.query(
    `SELECT doc::text AS doc, erased_at FROM ${table('pending_blobs')} WHERE upload_id COLLATE "C" > $1 ORDER BY upload_id COLLATE "C" LIMIT $2`,
    [after, limit])
  return rows.map((row) => ({ upload: decode(row.doc), erasedAt: new Date(row.erased_at) }))
}

export async function blobRemoved (sql: Sql, table: (name: string) => string, uploadId: string): Promise<void> {
  await sql.query(`DELETE FROM ${table('pending_blobs')} WHERE upload_id = $1`, [uploadId])
}
