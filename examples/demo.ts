import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify from 'fastify'
import imDeletePlugin from '../index.js'
import { PostgresStore } from '../postgres.js'
import { acquireDataLock } from './data-lock.js'
import { demoDataset, type DemoUser } from './seed.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
const dataDir = resolve(process.env.DEMO_DATA_DIR ?? fileURLToPath(new URL('../.data/', import.meta.url)))
/** A path as the user would type it: relative when it is under the current directory. */
const shown = (path: string): string => {
  const inside = relative(process.cwd(), path)
  return inside.startsWith('..') || isAbsolute(inside) ? path : inside === '' ? '.' : inside
}
const tokensFile = join(dataDir, 'demo-tokens.json')
const pgliteDir = join(dataDir, 'pglite')
const databaseUrl = process.env.DATABASE_URL

/** One line on stderr, then exit: what went wrong and what to do, never a stack. */
function stop (line: string): never {
  console.error(`demo: ${line}`)
  process.exit(1)
}

// Nothing below touches the data before this process holds the data directory: a second demo
// in the same folder stops here, leaving the first one's embedded database alone.
await mkdir(dataDir, { recursive: true })
const lock = await acquireDataLock(dataDir)
if (!lock.acquired) {
  stop(`another demo (pid ${lock.holder}) is using ${shown(dataDir)}; stop it first, or give this one its own data and port: DEMO_DATA_DIR=/tmp/demo-2 PORT=3001 npm start`)
}
const released = (): void => { lock.release() }
process.once('exit', released)

// A busy port is found out before the data is opened too (PORT=0 takes any free one).
if (port !== 0) {
  const busy = await new Promise<string | null>((resolve) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
    probe.listen({ port, host }, () => { probe.close(() => { resolve(null) }) })
  })
  if (busy !== null) stop(`${host}:${port} is not available (${busy}); choose another port: PORT=3001 npm start`)
}

if (process.env.DEMO_RESET === '1') {
  await rm(tokensFile, { force: true })
  await rm(pgliteDir, { recursive: true, force: true })
}

// Embedded PostgreSQL (PGlite) kept in the data directory between restarts, or a real server via DATABASE_URL.
let pglite: PGlite | undefined
let store: PostgresStore
try {
  if (databaseUrl === undefined) {
    pglite = await PGlite.create(pgliteDir)
    store = new PostgresStore({ pglite })
  } else {
    store = new PostgresStore({ connectionString: databaseUrl })
  }
  await store.migrate()
} catch (err) {
  // PGlite reports damaged files as a WebAssembly abort whose stack holds its whole minified source.
  const what = databaseUrl === undefined ? `the embedded database in ${shown(pgliteDir)}` : 'the database at DATABASE_URL'
  const reason = (err as Error).message.split('\n')[0].slice(0, 200)
  stop(`cannot open ${what} (${reason}); DEMO_RESET=1 npm start deletes the demo's data and starts afresh`)
}
const closeData = async (): Promise<void> => {
  await store.close()
  // The store leaves a PGlite it was given open; closing it is what writes it out cleanly.
  await pglite?.close()
}

// Seed on first start; later starts reuse the data and the tokens printed the first time.
let users: DemoUser[] | null = await readFile(tokensFile, 'utf8').then((text) => JSON.parse(text) as DemoUser[], () => null)
if (users === null || await store.findUser(users[0].username) === null) {
  const seed = demoDataset()
  await store.import(seed.dataset)
  users = seed.users
  await writeFile(tokensFile, JSON.stringify(users, null, 2))
}
const [admin, alice] = users

// What is left after earlier runs' erases: the commands below name only DMs that still exist.
const adminDms: Array<{ with: DemoUser, roomId: string }> = []
for (const other of users.slice(1)) {
  const room = await store.findDirectRoom([admin._id, other._id])
  if (room !== null) adminDms.push({ with: other, roomId: room._id })
}

const [byRoomId, byUsername] = adminDms

const app = Fastify({
  logger: true,
  // A whole request within 10 s, else 408 (Fastify's default, 0, never cuts one). Node checks
  // only every connectionsCheckingInterval (default 30 s) and enforces the larger of
  // headersTimeout (default 60 s) and requestTimeout: with all three set, the cut is at 10-11 s.
  requestTimeout: 10_000,
  http: { headersTimeout: 10_000, connectionsCheckingInterval: 1_000 },
  // Idle keep-alive sockets after 72 s, longer than a proxy's usual 60 s: the proxy closes first.
  keepAliveTimeout: 72_000
})
// API docs at /documentation; @fastify/swagger must be registered before the routes it describes.
await app.register(swagger, {
  openapi: {
    info: {
      title: 'fastify-im-delete demo',
      version: '0.1.0',
      description: `Authorize is pre-filled with the demo user **${admin.username}** (\`${admin._id}\`), whose login token was made when this demo seeded its data (kept in \`${shown(tokensFile)}\`).`
    }
  },
  // The JSON body's example names a DM that is really there, so that Execute erases it.
  transformObject: (documents) => 'openapiObject' in documents ? withExample(documents.openapiObject, byRoomId?.roomId) : documents.swaggerObject
})
await app.register(swaggerUi, {
  routePrefix: '/documentation',
  // Swagger UI keeps its instance to itself: this script wraps the constructor to pre-authorize it.
  theme: { js: [{ filename: 'demo-authorize.js', content: preauthorizeScript(admin) }] }
})
await app.register(imDeletePlugin, {
  store,
  fileStore: { remove: (upload) => { app.log.info({ upload: upload._id }, 'demo: file blob removed') } }
})
app.get('/', { schema: { hide: true } }, async () => ({
  service: 'fastify-im-delete demo',
  routes: ['POST /api/v1/im.delete', 'POST /api/v1/dm.delete'],
  documentation: '/documentation'
}))
app.addHook('onClose', closeData)

let address: string
try {
  // The address it really got: PORT=0 picks a free port.
  address = await app.listen({ port, host })
} catch (err) {
  await app.close()
  stop(`cannot listen on ${host}:${port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another port: PORT=3001 npm start`)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

const base = `${address}/api/v1`
// For scripts and tests: the address and every user's credentials, as JSON.
if (process.env.DEMO_TOKENS_FILE !== undefined) {
  await writeFile(process.env.DEMO_TOKENS_FILE, JSON.stringify({ address, users }, null, 2))
}
// -w '\n': the answers carry no newline of their own, and the prompt would follow them on their line.
const curl = (u: DemoUser | null, rest: string): string =>
  `curl -s -w '\\n' ${u === null ? '' : `-H 'X-User-Id: ${u._id}' -H 'X-Auth-Token: ${u.token}' `}${rest}`
const tries = [
  byRoomId === undefined
    ? null
    : `  # ${admin.username} deletes the DM with ${byRoomId.with.username}, by roomId (form body, as curl -d sends it): {"success":true}\n  ${curl(admin, `-d roomId=${byRoomId.roomId} ${base}/im.delete`)}`,
  byUsername === undefined
    ? null
    : `  # ${admin.username} deletes the DM with ${byUsername.with.username}, by username (JSON body): {"success":true}\n  ${curl(admin, `-H 'Content-Type: application/json' -d '{"username":"@${byUsername.with.username}"}' ${base}/dm.delete`)}`,
  `  # ${alice.username} lacks delete-d (only admins hold it): 400 error-not-allowed\n  ${curl(alice, `-d username=bob ${base}/im.delete`)}`,
  `  # no credentials: 401\n  ${curl(null, `-d roomId=x ${base}/im.delete`)}`,
  `  # a channel is never erased here: 400 invalid-channel\n  ${curl(admin, `-d roomId=GENERAL ${base}/im.delete`)}`
].filter((line) => line !== null)
const left = adminDms.length === 0
  ? `${admin.username} has no DM left to delete (erased in earlier runs): DEMO_RESET=1 npm start reseeds.`
  : `${admin.username}'s DMs left: ${adminDms.map((dm) => dm.with.username).join(', ')}. DEMO_RESET=1 npm start reseeds.`
console.log(`
fastify-im-delete demo on ${base}
store: ${databaseUrl === undefined ? `embedded PostgreSQL (PGlite) in ${shown(pgliteDir)}` : 'PostgreSQL at DATABASE_URL'}
permissions: Rocket.Chat's defaults (only admins delete DMs). ${left}
API docs: ${address}/documentation (Swagger UI; Authorize is pre-filled with ${admin.username}'s credentials below)

Users and login tokens (made when the data was seeded; also in ${shown(tokensFile)}):
${users.map((u) => `  ${u.username.padEnd(6)} X-User-Id: ${u._id.padEnd(8)} X-Auth-Token: ${u.token}`).join('\n')}

Try:
${tries.join('\n')}
`)

/** A script for the docs page: Swagger UI, once the document is loaded, authorized as `user`. */
function preauthorizeScript (user: DemoUser): string {
  return `(function () {
  var SwaggerUI = window.SwaggerUIBundle
  window.SwaggerUIBundle = Object.assign(function (config) {
    var ui = SwaggerUI(Object.assign({}, config, {
      onComplete: function () {
        ui.preauthorizeApiKey('X-User-Id', ${JSON.stringify(user._id)})
        ui.preauthorizeApiKey('X-Auth-Token', ${JSON.stringify(user.token)})
      }
    }))
    return ui
  }, SwaggerUI)
})()
`
}

/** The document with `roomId` as the example of every JSON body (none left: as it was). */
function withExample<T> (document: T, roomId: string | undefined): T {
  const paths = (document as { paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { example?: unknown }> } } }> }).paths ?? {}
  for (const item of Object.values(paths)) {
    const json = item.post?.requestBody?.content?.['application/json']
    if (json !== undefined && roomId !== undefined) json.example = { roomId }
  }
  return document
}
