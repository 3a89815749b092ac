// The server process of bench/pg/kill.ts: the plugin with its defaults on PostgresStore over a pg
// pool (DATABASE_URL, SCHEMA), its file blobs removed through the blob storage at BLOB_URL (HTTP
// DELETE). Sends `{ address }` to the parent once listening; closes on SIGTERM.
import Fastify from 'fastify'
import pg from 'pg'
import imDeletePlugin from '../../index.js'
import { PostgresStore } from '../../postgres.js'

const { DATABASE_URL, SCHEMA, BLOB_URL } = process.env as Record<string, string>
const pool = new pg.Pool({ connectionString: DATABASE_URL })
const store = new PostgresStore({ pool, schema: SCHEMA })
const app = Fastify()
await app.register(imDeletePlugin, {
  store,
  rateLimit: false,
  permissions: { 'delete-d': ['admin', 'user'] },
  fileStore: {
    async remove (upload) {
      const answer = await fetch(`${BLOB_URL}/${encodeURIComponent(upload._id)}`, { method: 'DELETE' })
      if (!answer.ok) throw new Error(`blob storage answered ${answer.status}`)
    }
  }
})
app.addHook('onClose', async () => {
  await store.close()
  await pool.end()
})
process.send?.({ address: await app.listen({ port: 0, host: '127.0.0.1' }) })
process.once('SIGTERM', () => { app.close().then(() => {}, (err) => { console.error(err) }) })
