// Loads a million DMs into a scratch schema of a real PostgreSQL server, then prints the plans
// PostgreSQL runs for the two lookups that must stay index scans at that size.
// Run: npx tsx bench/pg-explain.ts [rooms]  (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test)
import pg from 'pg'
import type { Room } from '../index.js'
import { PostgresStore } from '../postgres.js'
import { explainLookup } from './support/explain.js'

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const total = Number(process.argv[2] ?? 1_000_000)
const batch = 50_000
const schema = 'im_delete_explain'

interface PlanNode { 'Node Type': string, 'Relation Name'?: string, 'Index Name'?: string, 'Actual Rows'?: number, 'Actual Total Time'?: number, Plans?: PlanNode[] }

function describe (node: PlanNode, depth = 0): string[] {
  const on = node['Relation Name'] === undefined ? '' : ` on ${node['Relation Name']}`
  const using = node['Index Name'] === undefined ? '' : ` using ${node['Index Name']}`
  const line = `${'  '.repeat(depth)}${node['Node Type']}${on}${using} (actual rows=${node['Actual Rows']}, ${node['Actual Total Time']} ms)`
  return [line, ...(node.Plans ?? []).flatMap((child) => describe(child, depth + 1))]
}

const pool = new pg.Pool({ connectionString: url })
try {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  const store = new PostgresStore({ pool, schema })
  await store.migrate()
  console.log(`loading ${total} DMs into ${schema} …`)
  for (let start = 0; start < total; start += batch) {
    const rooms: Room[] = Array.from({ length: Math.min(batch, total - start) }, (_, k) => {
      const i = start + k
      return { _id: `room-${i}`, t: 'd', uids: [`user-${i}`, `user-${i + 1}`], usernames: [`user-${i}`, `user-${i + 1}`], msgs: 0 }
    })
    await store.import({ rooms })
  }
  await pool.query(`ANALYZE ${schema}.rooms`)
  const { rows: [{ count }] } = await pool.query(`SELECT count(*)::int AS count FROM ${schema}.rooms`)
  console.log(`${count} rooms, analyzed\n`)

  const middle = Math.floor(total / 2)
  // The statements' parameters: member ids sorted, as the store sends them.
  const lookups: Array<['findRoomById' | 'findDirectRoom', unknown[]]> = [
    ['findRoomById', [`room-${middle}`]],
    ['findDirectRoom', [[`user-${middle}`, `user-${middle + 1}`].sort()]],
    ['findDirectRoom', [['user-0', 'user-nobody']]]
  ]
  for (const [method, args] of lookups) {
    const [{ Plan: plan, 'Execution Time': time }] = await explainLookup(pool, schema, method, args, { analyze: true })
    console.log(`${method}(${JSON.stringify(args)}): execution ${time} ms`)
    console.log(describe(plan).join('\n') + '\n')
  }
} finally {
  if (!process.argv.includes('--keep')) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  await pool.end()
}
