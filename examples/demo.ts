import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify from 'fastify'
import imDeletePlugin from '../index.js'
import { PostgresStore } from '../postgres.js'
import { demoDataset, type DemoUser } from './seed.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = resolve(process.env.DEMO_DATA_DIR ?? fileURLToPath(new URL('../.data/', import.meta.url)))
const tokensFile = join(dataDir, 'demo-tokens.json')

if (process.env.DEMO_RESET === '1') await rm(dataDir, { recursive: true, force: true })
await mkdir(dataDir, { recursive: true })

// Embedded PostgreSQL (PGlite) kept in the data directory between restarts, or a real server via DATABASE_URL.
const databaseUrl = process.env.DATABASE_URL
const store = databaseUrl === undefined
  ? new PostgresStore({ pglite: await PGlite.create(join(dataDir, 'pglite')) })
  : new PostgresStore({ connectionString: databaseUrl })
await store.migrate()

// Seed on first start; later starts reuse the data and the tokens printed the first time.
let users: DemoUser[] | null = await readFile(tokensFile, 'utf8').then((text) => JSON.parse(text) as DemoUser[], () => null)
if (users === null || await store.findUser(users[0].username) === null) {
  const seed = demoDataset()
  await store.import(seed.dataset)
  users = seed.users
  await writeFile(tokensFile, JSON.stringify(users, null, 2))
}

// A slow body is cut after 10 s (Fastify's default, 0, never cuts one); idle keep-alive sockets
// after 72 s, longer than a proxy's usual 60 s, so the proxy closes first.
const app = Fastify({ logger: true, requestTimeout: 10_000, keepAliveTimeout: 72_000 })
// API docs at /documentation; @fastify/swagger must be registered before the routes it describes.
await app.register(swagger, { openapi: { info: { title: 'fastify-im-delete demo', version: '0.1.0' } } })
await app.register(swaggerUi, { routePrefix: '/documentation' })
await app.register(imDeletePlugin, {
  store,
  fileStore: { remove: (upload) => { app.log.info({ upload: upload._id }, 'demo: file blob removed') } }
})
app.get('/', { schema: { hide: true } }, async () => ({
  service: 'fastify-im-delete demo',
  routes: ['POST /api/v1/im.delete', 'POST /api/v1/dm.delete'],
  documentation: '/documentation'
}))
app.addHook('onClose', async () => { await store.close() })
// The address it really got: PORT=0 picks a free port.
const address = await app.listen({ port, host })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })

const base = `${address}/api/v1`
const [admin, alice] = users
// For scripts and tests: the address and every user's credentials, as JSON.
if (process.env.DEMO_TOKENS_FILE !== undefined) {
  await writeFile(process.env.DEMO_TOKENS_FILE, JSON.stringify({ address, users }, null, 2))
}
const auth = (u: DemoUser): string => `-H 'X-User-Id: ${u._id}' -H 'X-Auth-Token: ${u.token}'`
console.log(`
fastify-im-delete demo on ${base}
store: ${databaseUrl === undefined ? `embedded PostgreSQL (PGlite) in ${join(dataDir, 'pglite')}` : 'PostgreSQL at DATABASE_URL'}
permissions: Rocket.Chat's defaults (only admins delete DMs). DEMO_RESET=1 npm start reseeds.
API docs (Swagger UI, "Try it out" with the headers below): ${address}/documentation

Users and login tokens (also in ${tokensFile}):
${users.map((u) => `  ${u.username.padEnd(6)} X-User-Id: ${u._id.padEnd(8)} X-Auth-Token: ${u.token}`).join('\n')}

Try:
  # admin deletes the DM with alice, by roomId (form body, as curl -d sends it)
  curl -s ${auth(admin)} -d roomId=${[admin._id, alice._id].sort().join('')} ${base}/im.delete
  # admin deletes the DM with bob, by username (JSON body)
  curl -s ${auth(admin)} -H 'Content-Type: application/json' -d '{"username":"@bob"}' ${base}/dm.delete
  # alice is a member of her DM with bob but lacks delete-d: 400 error-not-allowed
  curl -s ${auth(alice)} -d username=bob ${base}/im.delete
  # no credentials: 401
  curl -s -d roomId=x ${base}/im.delete
  # a channel is never erased here: 400 invalid-channel
  curl -s ${auth(admin)} -d roomId=GENERAL ${base}/im.delete
`)
