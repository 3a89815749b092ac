// A small chat server with its own schema, sessions and file storage, given Rocket.Chat's
// Delete DM endpoint by the plugin. Run it: DATABASE_URL=postgres://… node --import tsx examples/existing-schema/server.ts
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import pg from 'pg'
import imDeletePlugin, { type FileStore, type Upload } from '../../index.js'
import { openSession, sessionAuthenticate } from './auth.js'
import { fromPool, migrate, type Db } from './db.js'
import { ChatStore } from './store.js'

/** Attachment blobs as files under one directory, named by their storage key. */
export class DiskBlobs implements FileStore {
  constructor (readonly dir: string) {}

  async put (storageKey: string, data: string | Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await writeFile(join(this.dir, storageKey), data)
  }

  /** Called once the erase has committed; a blob already gone is no failure. */
  async remove (upload: Upload): Promise<void> {
    await rm(join(this.dir, upload.storageKey as string), { force: true })
  }
}

/** What a member's connected clients are told: here a conversation of theirs was removed. */
export interface RemovedEvent {
  type: 'conversation-removed'
  conversationId: string
  by: string
}

export interface ChatServerOptions {
  db: Db
  blobs: DiskBlobs
  /** Delivers an event to one account's clients (a websocket hub, a pub/sub channel); default: a log line. */
  notify?: (accountId: string, event: RemovedEvent) => void | Promise<void>
  fastify?: FastifyServerOptions
}

export async function buildServer ({ db, blobs, notify, fastify }: ChatServerOptions): Promise<FastifyInstance> {
  const app = Fastify(fastify)
  const tell = notify ?? ((accountId, event) => { app.log.info({ to: accountId, event }, 'notify') })
  await app.register(imDeletePlugin, {
    store: new ChatStore(db),
    authenticate: sessionAuthenticate(db),
    // Members may delete their own DMs (Rocket.Chat's default: admins only).
    permissions: { 'delete-d': ['admin', 'user'] },
    fileStore: blobs,
    // Every member of the DM and of its discussions, also those who did not ask for the erase.
    onAfterErase: async ({ subscriptions, user }) => {
      await Promise.all(subscriptions.map((sub) => tell(sub.u._id, { type: 'conversation-removed', conversationId: sub.rid, by: user.username })))
    }
  })
  return app
}

/** Two accounts, their DM with a thread and an attachment: something to delete on a first start. */
async function seed (db: Db, blobs: DiskBlobs): Promise<Record<string, string>> {
  const { rows: [ada, bob] } = await db.query({ name: 'seed-accounts', text: "INSERT INTO accounts (username) VALUES ('ada'), ('bob') RETURNING id", values: [] })
  const { rows: [dm] } = await db.query({ name: 'seed-dm', text: "INSERT INTO conversations (kind) VALUES ('direct') RETURNING id", values: [] })
  await db.query({ name: 'seed-members', text: 'INSERT INTO conversation_members (conversation_id, account_id) VALUES ($1, $2), ($1, $3)', values: [dm.id, ada.id, bob.id] })
  const { rows: [post] } = await db.query({ name: 'seed-post', text: "INSERT INTO posts (conversation_id, author_id, body) VALUES ($1, $2, 'the plan') RETURNING id", values: [dm.id, ada.id] })
  await db.query({ name: 'seed-reply', text: "INSERT INTO posts (conversation_id, author_id, body, thread_parent_id) VALUES ($1, $2, 'agreed', $3)", values: [dm.id, bob.id, post.id] })
  await db.query({ name: 'seed-attachment', text: "INSERT INTO attachments (conversation_id, post_id, uploader_id, storage_key, file_name) VALUES ($1, $2, $3, 'plan.txt', 'plan.txt')", values: [dm.id, post.id, ada.id] })
  await blobs.put('plan.txt', 'the plan, in detail')
  return { conversation: dm.id, ada: await openSession(db, ada.id), bob: await openSession(db, bob.id) }
}

async function main (): Promise<void> {
  const { PORT, HOST } = { PORT: '3000', HOST: '127.0.0.1', ...process.env }
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
  const db = fromPool(pool)
  await migrate(db)
  const blobs = new DiskBlobs(await mkdtemp(join(tmpdir(), 'chat-blobs-')))
  const app = await buildServer({ db, blobs, fastify: { logger: true } })
  // A connection the server drops while idle is replaced by the pool; unheard, its error would crash the process.
  pool.on('error', (err) => { app.log.warn({ err }, 'database connection lost') })
  app.addHook('onClose', async () => { await pool.end() })
  const { rows: [{ count }] } = await db.query({ name: 'count-accounts', text: 'SELECT count(*)::int AS count FROM accounts', values: [] })
  const demo = count === 0 ? await seed(db, blobs) : {}
  const address = await app.listen({ port: Number(PORT), host: HOST })
  // One JSON line a script can read: where the server and its blobs are, and on a first start the demo's sessions.
  console.log(JSON.stringify({ address, blobs: blobs.dir, ...demo }))
  process.once('SIGTERM', async () => { await app.close() })
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main()
