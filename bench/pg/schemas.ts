import pg from 'pg'
import type { Dataset } from '../../index.js'
import type { LayoutOwner } from './contract.js'
import { q } from './hand-sql.js'

/** Every schema the benchmark makes starts with this, so they are easy to find and drop. */
export const SCHEMA_PREFIX = 'imdel_bench_'

/** Marks a filled world schema with what it holds, so a later run can reuse it. */
const MARKER = 'bench_world'

async function marker (pool: pg.Pool, schema: string): Promise<string | null> {
  const { rows: [found] } = await pool.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [q(schema, MARKER)])
  if (found.present !== true) return null
  const { rows: [row] } = await pool.query<{ world: string }>(`SELECT world FROM ${q(schema, MARKER)}`)
  return row?.world ?? null
}

export async function dropSchema (pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
}

/** An empty schema with the owner's tables in it. */
export async function freshSchema (pool: pg.Pool, owner: LayoutOwner, schema: string): Promise<void> {
  await dropSchema(pool, schema)
  await pool.query(`CREATE SCHEMA ${pg.escapeIdentifier(schema)}`)
  await owner.createTables(pool, schema)
}

/**
 * A schema holding a world, made by `owner` (tables, then the slices imported one by one, then
 * ANALYZE). Reused when an earlier run left the same world made by the same owner, unless `fresh`.
 */
export async function worldSchema (
  pool: pg.Pool, owner: LayoutOwner, schema: string, world: string, slices: Iterable<Dataset>, fresh: boolean, log: (line: string) => void
): Promise<{ reused: boolean, seconds: number }> {
  const key = `${world} by ${owner.name}`
  if (!fresh && await marker(pool, schema) === key) return { reused: true, seconds: 0 }
  const started = performance.now()
  log(`pg: making ${schema} (${world}, ${owner.name})`)
  await freshSchema(pool, owner, schema)
  for (const slice of slices) await owner.import(pool, schema, slice)
  await pool.query(`CREATE TABLE ${q(schema, MARKER)} (world text NOT NULL)`)
  await pool.query(`INSERT INTO ${q(schema, MARKER)} (world) VALUES ($1)`, [key])
  await analyze(pool, schema)
  return { reused: false, seconds: (performance.now() - started) / 1000 }
}

async function tables (pool: pg.Pool, schema: string): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name", [schema])
  return rows.map((row) => row.table_name).filter((name) => name !== MARKER)
}

/** VACUUM (hint bits set, visibility map written) and ANALYZE: no measured erase pays for either. */
export async function analyze (pool: pg.Pool, schema: string): Promise<void> {
  for (const table of await tables(pool, schema)) await pool.query(`VACUUM (ANALYZE) ${q(schema, table)}`)
}

/**
 * An identical copy of `template` in `schema`: the owner's tables, then every row copied over
 * server-side (rows the owner wrote itself, such as migration records, kept), then ANALYZE.
 */
export async function copySchema (pool: pg.Pool, owner: LayoutOwner, template: string, schema: string): Promise<void> {
  await freshSchema(pool, owner, schema)
  // Parents first: a table another references (users, rooms: foreign keys) must be filled before it.
  const rank = (table: string): number => ['users', 'rooms'].includes(table) ? 0 : 1
  const ordered = (await tables(pool, template)).sort((a, b) => rank(a) - rank(b))
  for (const table of ordered) {
    await pool.query(`INSERT INTO ${q(schema, table)} SELECT * FROM ${q(template, table)} ON CONFLICT DO NOTHING`)
  }
  await analyze(pool, schema)
}

export async function rowCounts (pool: pg.Pool, schema: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const table of await tables(pool, schema)) {
    const { rows: [row] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${q(schema, table)}`)
    counts[table] = row.n
  }
  return counts
}
