import { createHash, randomBytes } from 'node:crypto'
import type { Authenticate } from '../../index.js'
import type { Db } from './db.js'

const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex')

/** Opens a session for the account (what the server's login does): the token goes to the client, its hash to the table. */
export async function openSession (db: Db, accountId: string, ttlSeconds = 86_400): Promise<string> {
  const token = randomBytes(32).toString('base64url')
  await db.query({
    name: 'session-open',
    text: 'INSERT INTO sessions (token_sha256, account_id, expires_at) VALUES (decode($1, \'hex\'), $2, now() + make_interval(secs => $3))',
    values: [sha256(token), accountId, ttlSeconds]
  })
  return token
}

/**
 * The server's own sessions as the plugin's `authenticate`: `Authorization: Bearer <token>`,
 * a session that has not expired, an account that is not deactivated and has a username.
 */
export function sessionAuthenticate (db: Db): Authenticate {
  return async function authenticate (request) {
    const token = /^Bearer ([\w-]+)$/.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined) return null
    const { rows } = await db.query({
      name: 'session-account',
      text: `SELECT a.id, a.username, a.roles FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.token_sha256 = decode($1, 'hex') AND s.expires_at > now() AND a.deactivated_at IS NULL AND a.username IS NOT NULL`,
      values: [sha256(token)]
    })
    return rows.length === 0 ? null : { _id: rows[0].id, username: rows[0].username, roles: rows[0].roles }
  }
}
