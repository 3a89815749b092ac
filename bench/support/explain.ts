// The plan PostgreSQL picks for one of PostgresStore's lookups: diagnostics for the bench and the
// tests, run on the statement the store sends, not a method of the store.
import { quoteIdentifier, type Sql } from '../../lib/stores/postgres/driver.js'
import { lookupStatements, type LookupStatements } from '../../lib/stores/postgres/lookups.js'

/** `EXPLAIN (FORMAT JSON)` of the lookup on the schema's tables, with the statement's parameters; run too with `analyze`. */
export async function explainLookup (sql: Sql, schema: string, lookup: keyof LookupStatements, params: unknown[], { analyze = false } = {}): Promise<any> {
  const { text } = lookupStatements((name) => `${quoteIdentifier(schema)}.${name}`)[lookup]
  const { rows } = await sql.query(`EXPLAIN (FORMAT JSON${analyze ? ', ANALYZE' : ''}) ${text}`, params)
  return rows[0]['QUERY PLAN']
}
