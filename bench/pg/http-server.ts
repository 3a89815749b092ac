/**
 * A server under test on PostgreSQL, run by bench/support/child.ts in its own process (never import it).
 * `pg-plugin`: the plugin on `PostgresStore` (rate limiting off, no fileStore, no hooks).
 * `pg-hand`: the route a careful user would write by hand for the same contract on the same
 * tables: the same checks in the same order, the same answers, bench/pg/hand-sql.ts's erase,
 * lookups that read only the columns the route uses, plain (unnamed) pg queries.
 * Both count the statements they send (every `query` of pg's Client) and answer the same
 * sample/close messages as bench/http/server.ts.
 */
import Fastify, { type FastifyReply } from 'fastify'
import pg from 'pg'
import imDeletePlugin, { hashLoginToken } from '../../index.js'
import { PostgresStore } from '../../postgres.js'
import type { FromChild, ServerConfig, ToChild } from '../support/child.js'
import { processSample } from '../support/sample.js'
import { handErase, q } from './hand-sql.js'

const config = JSON.parse(process.argv[2] ?? '') as ServerConfig
const send = (message: FromChild): void => { process.send?.(message) }
process.on('disconnect', () => process.exit(0))
if (config.pg === undefined) throw new Error('bench pg server: no pg settings')
const settings = config.pg

// Every statement either server sends goes through a pg Client's query (a pool's too).
let statements = 0
const query = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++
  return (query as (...a: unknown[]) => unknown).apply(this, args)
} as typeof query

// Connections stay open for the whole run: the parent finds them by application_name to read their CPU time.
const pool = new pg.Pool({ connectionString: settings.url, max: settings.poolSize, idleTimeoutMillis: 0, application_name: settings.applicationName })
const app = Fastify({ logger: false })

if (config.mode === 'pg-plugin') {
  const store = new PostgresStore({ pool, schema: settings.schema, preparedStatements: settings.preparedStatements })
  await app.register(imDeletePlugin, { store, rateLimit: false })
} else {
  handRoute(settings.schema)
}

function handRoute (schema: string): void {
  const t = (name: string): string => q(schema, name)
  const JSON_TYPE = 'application/json; charset=utf-8'
  const answer = (reply: FastifyReply, status: number, body: string): FastifyReply => reply.code(status).type(JSON_TYPE).send(body)
  const SUCCESS = JSON.stringify({ success: true })
  const UNAUTHORIZED = JSON.stringify({ success: false, status: 'error', message: 'You must be logged in to do this.', error: 'You must be logged in to do this.' })
  const INVALID_CHANNEL = JSON.stringify({ success: false, error: '[invalid-channel]', errorType: 'invalid-channel' })
  const INVALID_PARAMS = JSON.stringify({ success: false, error: '[invalid-params]', errorType: 'invalid-params' })
  const NOT_ALLOWED = JSON.stringify({ success: false, error: 'Not allowed [error-not-allowed]', errorType: 'error-not-allowed' })
  const ERASE_NOT_ALLOWED = JSON.stringify({ success: false, error: 'Not allowed [error-not-allowed]', errorType: 'error-not-allowed', details: { method: 'eraseRoom' } })
  const INVALID_ROOM = JSON.stringify({ success: false, error: 'Invalid room [error-invalid-room]', errorType: 'error-invalid-room' })
  const VIEW_D_ROOM = new Set(['admin', 'user', 'bot', 'app', 'guest', 'federated-external'])
  const has = (roles: unknown, role: (r: string) => boolean): boolean => Array.isArray(roles) && roles.some((r) => typeof r === 'string' && role(r))

  app.post('/api/v1/im.delete', async (request, reply) => {
    const userId = request.headers['x-user-id']
    const token = request.headers['x-auth-token']
    if (typeof userId !== 'string' || userId === '' || typeof token !== 'string' || token === '') return answer(reply, 401, UNAUTHORIZED)
    const { rows: [caller] } = await pool.query(
      `SELECT u.username, u.doc->'roles' AS roles FROM ${t('login_tokens')} lt JOIN ${t('users')} u ON u._id = lt.user_id
       WHERE lt.user_id = $1 AND lt.hashed_token = $2 AND (u.doc->'active') IS DISTINCT FROM 'false'::jsonb`,
      [userId, hashLoginToken(token)])
    if (caller === undefined || typeof caller.username !== 'string' || caller.username === '') return answer(reply, 401, UNAUTHORIZED)

    const body = request.body as { roomId?: unknown } | null
    const key = body?.roomId
    if (typeof key !== 'string') return answer(reply, 400, INVALID_PARAMS)
    // Rev 2: a user by _id or username first, the room by id if none; the caller's subscription
    // to the room ahead. Three queries at once, as the contract's resolution needs them.
    const [user, room, { rows: [subscription] }] = await Promise.all([
      pool.query(`SELECT _id FROM ${t('users')} WHERE _id = $1 OR username = $1 ORDER BY _id = $1 DESC LIMIT 1`, [key]),
      pool.query(`SELECT t, doc->'federated' AS federated FROM ${t('rooms')} WHERE _id = $1`, [key]),
      pool.query(`SELECT doc->'roles' AS roles FROM ${t('subscriptions')} WHERE rid = $1 AND user_id = $2 LIMIT 1`, [key, userId])
    ])
    // A user found would lead to the DM by its members: not on the measured paths.
    if (user.rows.length > 0) throw new Error('bench: the hand route resolves users only by miss')
    const found = room.rows[0]
    if (found === undefined || found.t !== 'd') return answer(reply, 400, INVALID_CHANNEL)
    const isAdmin = has(caller.roles, (r) => r === 'admin')
    if (!((subscription !== undefined && has(caller.roles, (r) => VIEW_D_ROOM.has(r))) || isAdmin)) return answer(reply, 400, NOT_ALLOWED)
    if (found.federated === true) return answer(reply, 400, NOT_ALLOWED)
    if (!isAdmin && !has(subscription?.roles, (r) => r === 'admin')) return answer(reply, 400, ERASE_NOT_ALLOWED)
    const erased = await handErase(pool, schema, key, { documents: false })
    if (erased === null) return answer(reply, 400, INVALID_ROOM)
    return answer(reply, 200, SUCCESS)
  })
}

await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('bench pg server: no TCP address')

process.on('message', async (message: ToChild) => {
  if (message.type === 'close') {
    await app.close()
    await pool.end()
    process.disconnect()
    return
  }
  if (message.type !== 'sample') return
  send({ type: 'sample', id: message.id, ...processSample(), statements })
})

send({ type: 'ready', port: address.port, seedMs: 0, unseededHeapUsed: 0, unseededRss: 0, usersHeapUsed: 0 })
