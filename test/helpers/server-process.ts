// One server process for test/multiprocess.test.ts (run with `node --import tsx`, forked with an
// IPC channel): the plugin on PostgreSQL, in the schema the parent gives, with the rate limit
// counted in Redis under the parent's namespace, as a deployment of several processes runs it.
// Reports { address } once listening. On SIGTERM, or when the parent goes away, it closes the
// server, the store's pool and Redis and then exits by itself, with nothing left open: no
// process.exit, so a handle left behind would keep it alive and fail the parent's test.
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import imDeletePlugin from '../../index.js'
import { PostgresStore } from '../../postgres.js'
import { listenForParent } from './child.js'

const { DATABASE_URL, SCHEMA, REDIS_URL, NAME_SPACE } = process.env as Record<string, string>

const store = new PostgresStore({ connectionString: DATABASE_URL, schema: SCHEMA })
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
const app = Fastify()
await app.register(imDeletePlugin, { store, rateLimit: { redis, nameSpace: NAME_SPACE } })
app.addHook('onClose', async () => {
  await store.close()
  await redis.quit()
})
await listenForParent(app)
