// Blob removals that outlive the process: the erase records each removed upload in
// `pending_blobs` (migration 4) in its own transaction; the plugin removes the blob after the
// commit, and again after a restart, and deletes the row once the file store has succeeded.
import type { PendingBlob } from '../../store.js'
import type { Sql } from './driver.js'

/**
 * The erase's uploads step when blobs are to be recorded: the uploads deleted and their
 * documents kept as pending removals, in one statement. An upload id already pending (an
 * upload imported again after an erase) keeps its first row: its blob is removed either way.
 */
export function deleteUploadsRecordingBlobs (table: (name: string) => string): string {
  return `WITH gone AS (DELETE FROM ${table('uploads')} WHERE rid = ANY($1::text[]) RETURNING _id, doc),
     pending AS (INSERT INTO ${table('pending_blobs')} (upload_id, doc) SELECT _id, doc FROM gone ON CONFLICT (upload_id) DO NOTHING)
   SELECT doc::text AS doc FROM gone ORDER BY _id`
}

/**
 * Whether the schema has `pending_blobs` (version 4 or newer). A schema not yet upgraded keeps
 * working as before: blobs are then removed once, in memory, after the commit.
 */
export async function recordsBlobs (sql: Sql, table: (name: string) => string): Promise<boolean> {
  const { rows: [row] } = await sql.query('SELECT to_regclass($1) IS NOT NULL AS present', [table('pending_blobs')])
  return row.present === true
}

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
