// One server process for test/process-faults.test.ts (run like server-process.ts): the plugin on
// PostgresStore over a pg pool the host owns and gives no 'error' listener, as the README shows;
// default store bounds; file blobs removed through the blob storage at BLOB_URL (HTTP DELETE).
// Reports { address } once listening; on SIGTERM, or when the parent goes away, closes and exits.
import Fastify from 'fastify'
import pg from 'pg'
import imDeletePlugin from '../../index.js'
import { PostgresStore } from '../../postgres.js'
import { listenForParent } from './child.js'

const { DATABASE_URL, SCHEMA, BLOB_URL } = process.env as Record<string, string>

const pool = new pg.Pool({ connectionString: DATABASE_URL, application_name: 'im-delete-fault-server', connectionTimeoutMillis: 2000 })
const store = new PostgresStore({ pool, schema: SCHEMA })
const app = Fastify()
await app.register(imDeletePlugin, {
  store,
  rateLimit: false,
  fileStore: {
    async remove (upload) {
      const answer = await fetch(`${BLOB_URL}/${upload._id}`, { method: 'DELETE' })
      if (!answer.ok) throw new Error(`blob storage answered ${answer.status}`)
    }
  }
})
app.addHook('onClose', async () => {
  await store.close()
  await pool.end()
})
await listenForParent(app)
