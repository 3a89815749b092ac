import formbody from '@fastify/formbody'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { errorCodes, type FastifyContextConfig, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Authenticate } from './auth.js'
import type { DirectMessageEraser } from './erase.js'
import {
  AppPreventedError,
  CreateNotAllowedError,
  EraseNotAllowedError,
  FederatedRoomError,
  InvalidChannelError,
  InvalidParamsError,
  InvalidRoomError,
  NotAllowedError,
  TooManyRequestsError,
  UnauthorizedError,
  UsernameMissingError
} from './errors.js'
import { logFailure, loggedError } from './log.js'
import { routeDocs, swaggerTransform } from './openapi.js'
import type { HasPermission } from './permissions.js'
import type { Limiter } from './rate-limit.js'
import { ImDeleteBodySchema, type ImDeleteBody } from './schema.js'
import type { Caller } from './types.js'

export interface RoutesOptions {
  authenticate: Authenticate
  hasPermission: HasPermission
  eraser: DirectMessageEraser
  limiter: Limiter | null
  skipRateLimitOnError: boolean
  bodyLimit: number
}

const ROUTE_NAMES = ['im.delete', 'dm.delete'] as const

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * How Rocket.Chat words one error: `errorType` is appended to the message in brackets and,
 * unless `untyped`, sent as a field too (its `tooManyRequests` answer has no such field); an
 * error without one (a failed argument check) is its message alone.
 */
interface WireShape { errorType?: string, untyped?: true, reason?: string, details?: { method: string } }

type WireClass = new (...args: any[]) => FastifyError

/** An answer as Rocket.Chat puts it on the wire. */
interface WireAnswer { statusCode: number, body: string }

const ERASE_ROOM = { method: 'eraseRoom' }
const CREATE_DIRECT_MESSAGE = { method: 'createDirectMessage' }

/** Rocket.Chat's REST layer sends both on every API answer: nothing about a deletion is cached. */
const NO_CACHE = { 'cache-control': 'no-store', pragma: 'no-cache' }

const INVALID_PARAMS: WireShape = { errorType: 'invalid-params' }

function failureBody (wire: WireShape, message: string): string {
  const reason = wire.reason ?? message
  if (wire.errorType === undefined) return JSON.stringify({ success: false, error: reason })
  return JSON.stringify({
    success: false,
    error: reason === '' ? `[${wire.errorType}]` : `${reason} [${wire.errorType}]`,
    errorType: wire.untyped === true ? undefined : wire.errorType,
    details: wire.details
  })
}

/**
 * Our errors → Rocket.Chat's `errorType`, with the `details` it sends, and the body of each
 * class's fixed message built once. Matched by class: a store's or hook's error may carry any
 * `code`, `statusCode` or `validation`, and must still be a 500 that says nothing.
 */
const WIRE = new Map(([
  [TooManyRequestsError, { errorType: 'error-too-many-requests', untyped: true }],
  [InvalidParamsError, INVALID_PARAMS],
  [InvalidChannelError, { errorType: 'invalid-channel', reason: '' }],
  [NotAllowedError, { errorType: 'error-not-allowed' }],
  [CreateNotAllowedError, { errorType: 'error-not-allowed', details: CREATE_DIRECT_MESSAGE }],
  [UsernameMissingError, {}],
  [FederatedRoomError, { errorType: 'error-cannot-delete-federated-room', details: ERASE_ROOM }],
  [EraseNotAllowedError, { errorType: 'error-not-allowed', details: ERASE_ROOM }],
  [AppPreventedError, { errorType: 'error-app-prevented-deleting' }],
  [InvalidRoomError, { errorType: 'error-invalid-room', details: ERASE_ROOM }]
] satisfies Array<[WireClass, WireShape]>).map(([ErrorClass, wire]) => {
  const { statusCode, message } = new ErrorClass()
  return [ErrorClass as WireClass, { wire, statusCode: statusCode as number, message, body: failureBody(wire, message) }]
}))

/** Fastify's body errors (unparseable, empty, unsupported type, too large), by class likewise. */
const BODY_ERRORS = Object.entries(errorCodes).filter(([code]) => code.startsWith('FST_ERR_CTP_')).map(([, type]) => type)

const UNAUTHORIZED_MESSAGE = new UnauthorizedError().message
const UNAUTHORIZED: WireAnswer = {
  statusCode: 401,
  body: JSON.stringify({ success: false, status: 'error', message: UNAUTHORIZED_MESSAGE, error: UNAUTHORIZED_MESSAGE })
}
const INTERNAL: WireAnswer = { statusCode: 500, body: JSON.stringify({ success: false, error: 'Internal server error' }) }
const SUCCESS_BODY = JSON.stringify({ success: true })

const sendAnswer = (reply: FastifyReply, { statusCode, body }: WireAnswer): FastifyReply =>
  reply.code(statusCode).type(JSON_TYPE).send(body)

const acceptHeaders = (): boolean => true

const CALLER = Symbol('fastify-im-delete caller')
type CallerRequest = FastifyRequest & { [CALLER]: Caller | null }

/** Any error met on our routes, as Rocket.Chat would put it on the wire; null for a failure (500). */
function toWire (err: unknown, request: FastifyRequest): WireAnswer | null {
  if (err instanceof UnauthorizedError) return UNAUTHORIZED
  // The request stream's own error (`errored` is null until there is one, hence the null check):
  // the client hung up or broke the framing mid-body, which is no server failure.
  if (BODY_ERRORS.some((type) => err instanceof type) || (err !== null && err === request.raw.errored)) {
    const { statusCode, message } = err as FastifyError
    return { statusCode: statusCode === 413 ? 413 : 400, body: failureBody(INVALID_PARAMS, message) }
  }
  // Looked up by its prototype's constructor (never by a property of the error, which may be
  // anything or throw), then confirmed by class.
  const ErrorClass = typeof err === 'object' && err !== null ? Object.getPrototypeOf(err)?.constructor : undefined
  const known = WIRE.get(ErrorClass)
  if (known !== undefined && err instanceof ErrorClass) {
    const { message } = err as FastifyError
    return { statusCode: known.statusCode, body: message === known.message ? known.body : failureBody(known.wire, message) }
  }
  return null
}

export async function imDeleteRoutes (app: FastifyInstance, options: RoutesOptions): Promise<void> {
  const { authenticate, hasPermission, eraser, limiter, skipRateLimitOnError, bodyLimit } = options
  // The authenticated caller, from onRequest to the handler; only this context's requests carry it.
  app.decorateRequest(CALLER, null)

  // Rocket.Chat's ajv configuration: coercion on, nothing stripped, first error per branch.
  const ajv = new Ajv2020({ coerceTypes: true, allowUnionTypes: true, allErrors: false, strict: false })
  // The headers schema documents the credentials for OpenAPI; `authenticate` checks them.
  app.setValidatorCompiler(({ schema, httpPart }) => httpPart === 'headers' ? acceptHeaders : ajv.compile(schema))

  // Exactly JSON and form bodies, parsed the same way whatever the host application configured.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))
  await app.register(formbody)

  app.setErrorHandler(function imDeleteErrorHandler (err: unknown, request, reply) {
    const answer = toWire(err, request)
    if (answer === null) logFailure(request.log, err, {}, 'im.delete: request failed')
    return sendAnswer(reply, answer ?? INTERNAL)
  })

  async function rateLimit (request: FastifyRequest, reply: FastifyReply, limiter: Limiter, caller: Caller): Promise<void> {
    if (await hasPermission(caller, 'api-bypass-rate-limit')) return
    let count
    try {
      count = await limiter(request)
    } catch (err) {
      if (!skipRateLimitOnError) throw err
      request.log.warn({ err: loggedError(err) }, 'im.delete: rate-limit store failed; request let through')
      return
    }
    // Ours, not the plugin's hook: Rocket.Chat sends Reset as epoch milliseconds, and no Retry-After.
    reply.headers({ 'x-ratelimit-limit': count.max, 'x-ratelimit-remaining': count.remaining, 'x-ratelimit-reset': Date.now() + count.ttl })
    if (count.isExceeded) throw new TooManyRequestsError(count.ttlInSeconds)
  }

  for (const name of ROUTE_NAMES) {
    app.route<{ Body: ImDeleteBody }>({
      method: 'POST',
      url: `/${name}`,
      bodyLimit,
      schema: { ...routeDocs(name), body: ImDeleteBodySchema },
      // Rocket.Chat's message: ajv's messages joined by "\n ".
      schemaErrorFormatter: (errors) => new InvalidParamsError(errors.map((e) => e.message).join('\n ')),
      // A rate limiter the host registered (@fastify/rate-limit) must leave our routes alone;
      // @fastify/swagger, when registered, documents them through our transform.
      config: { rateLimit: false, swaggerTransform } as FastifyContextConfig,
      // Authenticate and limit before the body is read.
      async onRequest (request, reply) {
        // Set first: every answer from here on keeps them, whichever status and whoever sends it.
        reply.headers(NO_CACHE)
        const found = await authenticate(request)
        // Answered here, not thrown: the cheapest answer for the request anyone can send in bulk.
        if (typeof found?._id !== 'string' || typeof found.username !== 'string' || found.username === '') {
          return await sendAnswer(reply, UNAUTHORIZED)
        }
        const caller: Caller = { _id: found._id, username: found.username, roles: found.roles ?? [] }
        ;(request as CallerRequest)[CALLER] = caller
        if (limiter !== null) await rateLimit(request, reply, limiter, caller)
        // Rocket.Chat reads an absent body as an empty object; a body that is sent replaces this one.
        request.body = {} as ImDeleteBody
      },
      async handler (request, reply) {
        await eraser.erase((request as CallerRequest)[CALLER] as Caller, request.body, request.log)
        return reply.type(JSON_TYPE).send(SUCCESS_BODY)
      }
    })
  }
}
