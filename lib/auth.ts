import { hash } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { ImDeleteStore } from './store.js'
import type { Caller } from './types.js'

/** Rocket.Chat's login-token hash: base64 of the token's SHA-256. */
export function hashLoginToken (token: string): string {
  return hash('sha256', token, 'base64')
}

/** Resolves the caller of a request, or null when it is not authenticated. */
export type Authenticate = (request: FastifyRequest) => Caller | null | undefined | Promise<Caller | null | undefined>

/** The one store method the default `authenticate` needs. */
export type LoginTokenLookup = Pick<Required<ImDeleteStore>, 'findUserByLoginToken'>

/** Rocket.Chat's `X-User-Id` / `X-Auth-Token` check against the store's users. */
export function createAuthenticate (store: LoginTokenLookup): Authenticate {
  return async function authenticate (request) {
    const userId = request.headers['x-user-id']
    const token = request.headers['x-auth-token']
    if (typeof userId !== 'string' || userId === '' || typeof token !== 'string' || token === '') return null
    const user = await store.findUserByLoginToken(userId, hashLoginToken(token))
    // A store's lookup refuses deactivated users; checked again here, as Rocket.Chat never lets one in.
    if (user === null || user.active === false || typeof user.username !== 'string' || user.username === '') return null
    return { _id: user._id, username: user.username, roles: user.roles ?? [] }
  }
}
