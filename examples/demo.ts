import { writeFile } from 'node:fs/promises'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify from 'fastify'
import imDeletePlugin, { MemoryStore } from '../index.js'
import { demoDataset } from './seed.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'

const { dataset, users } = demoDataset()
const store = new MemoryStore(dataset)

const app = Fastify({ logger: true })
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
// The address it really got: PORT=0 picks a free port.
const address = await app.listen({ port, host })

const base = `${address}/api/v1`
const [admin, alice] = users
// For scripts and tests: the address and every user's credentials, as JSON.
if (process.env.DEMO_TOKENS_FILE !== undefined) {
  await writeFile(process.env.DEMO_TOKENS_FILE, JSON.stringify({ address, users }, null, 2))
}
const auth = (u: typeof admin): string => `-H 'X-User-Id: ${u._id}' -H 'X-Auth-Token: ${u.token}'`
console.log(`
fastify-im-delete demo on ${base} (memory store, default Rocket.Chat permissions: only admins delete DMs)
API docs (Swagger UI, "Try it out" with the headers below): ${address}/documentation

Users and login tokens:
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
