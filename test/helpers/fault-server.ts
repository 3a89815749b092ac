// One server process for test/process-faults.test.ts (run like server-process.ts): the plugin on
// PostgresStore over a pg pool the host owns and gives no 'error' listener, as the README shows;
// default store bounds; file blobs removed through the blob storage at BLOB_URL (HTTP DELETE);
// the purge's batch size and pause from PURGE_BATCH and PURGE_PAUSE when given.
// Reports { address } once listening; on SIGTERM, or when the parent goes away, closes and exits.
import Fastify from 'fastify'
import pg from 'pg'
import imDeletePlugin from '../../index.js'
import { PostgresStore } from '../../postgres.js'
import { listenForParent } from './child.js'

const { DATABASE_URL, SCHEMA, BLOB_URL, PURGE_BATCH, PURGE_PAUSE } = process.env as Record<string, string | undefined>

const pool = new pg.Pool({ connectionString: DATABASE_URL as string, application_name: 'im-delete-fault-server', connectionTimeoutMillis: 2000 })
const store = new PostgresStore({ pool, schema: SCHEMA as string })
const app = Fastify()
await app.register(imDeletePlugin, {
  store,
  rateLimit: false,
  // A purge's pace, when the test asks for one: small slow steps, so that it can be killed mid-way.
  purge: PURGE_BATCH === undefined ? undefined : { batchSize: Number(PURGE_BATCH), pause: Number(PURGE_PAUSE ?? 0) },
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
