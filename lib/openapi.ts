/**
 * OpenAPI documentation of the two routes, read by @fastify/swagger when the host registers
 * it; without it Fastify ignores these keys. The routes reply with precomputed JSON strings,
 * which Fastify sends as they are: these response schemas describe the bodies, they never
 * re-serialize one. Their properties are nevertheless listed in the order the bodies have.
 */

import type { FastifySchema } from 'fastify'

const FAILURE_PROPERTIES = {
  success: { type: 'boolean', enum: [false] },
  error: { type: 'string', description: 'A human-readable message, then the `errorType` in brackets.' },
  errorType: { type: 'string' }
} as const

const failure = (description: string, examples: Record<string, { summary: string, value: object }>): object => ({
  description,
  type: 'object',
  properties: {
    ...FAILURE_PROPERTIES,
    details: {
      type: 'object',
      description: 'Names the Rocket.Chat method that refused, as Rocket.Chat does: `eraseRoom` for the erase checks, ' +
        '`createDirectMessage` when the DM does not exist yet and the caller lacks `create-d`.',
      properties: { method: { type: 'string', enum: ['eraseRoom', 'createDirectMessage'] } }
    }
  },
  // One 400 has no errorType: Rocket.Chat's argument check for a user without a username.
  required: ['success', 'error'],
  'x-examples': examples
})

type Details = { method: 'eraseRoom' | 'createDirectMessage' }

const fail = (error: string, errorType: string, details?: Details): object =>
  details === undefined ? { success: false, error, errorType } : { success: false, error, errorType, details }

const ERASE_ROOM = { method: 'eraseRoom' } as const
const CREATE_DIRECT_MESSAGE = { method: 'createDirectMessage' } as const

const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': { type: 'integer', description: 'Calls allowed per window (sent when rate limiting is on).' },
  'X-RateLimit-Remaining': { type: 'integer', description: 'Calls left in the current window.' },
  'X-RateLimit-Reset': { type: 'integer', description: 'When the window resets, in epoch milliseconds (as Rocket.Chat sends it).' }
}

const DESCRIPTION = `Erases a direct message room and everything in it: messages, uploads, subscriptions, read
receipts and discussions. Send exactly one of \`roomId\` or \`username\`, in a JSON or form-encoded
body; both are resolved the same way, as Rocket.Chat resolves them:

- \`#<room id>\`: the room with that id;
- otherwise, with the first \`@\` dropped (\`@bob\`, \`bob\`): the user whose \`_id\` or username that is
  names your 1:1 DM with them (your own names your self-DM); when no user matches, the room with
  that id. So \`{"roomId":"bob"}\`, \`{"username":"<dm id>"}\` and \`{"roomId":"#<dm id>"}\` all work.

Only a room of type \`d\` is ever erased (anything else: \`invalid-channel\`). A DM that does not
exist yet is not created: without \`create-d\` the answer is Rocket.Chat's \`createDirectMessage\`
refusal, otherwise the checks below run as for a member, and nothing changes.

The caller must reach the room (subscribed and holding \`view-joined-room\` or \`view-d-room\`, or
holding \`view-room-administration\`; all three are global) and hold \`delete-d\` (by default only
admins do; the roles of the caller's subscription count too). Federated rooms are never erased.
Rate limited per client IP and route (default 10 calls a minute), except for holders of
\`api-bypass-rate-limit\`. Every answer carries \`Cache-Control: no-store\` and \`Pragma: no-cache\`.

Wire-compatible with Rocket.Chat's endpoint (3.18.0+).`

const NO_CACHE_HEADERS = {
  'Cache-Control': { type: 'string', enum: ['no-store'], description: 'On every answer, as Rocket.Chat sends it.' },
  Pragma: { type: 'string', enum: ['no-cache'], description: 'On every answer, as Rocket.Chat sends it.' }
}

const RESPONSES_WITHOUT_HEADERS = {
  200: {
    description: 'The DM and everything in it were erased.',
    type: 'object',
    properties: { success: { type: 'boolean', enum: [true] } },
    required: ['success'],
    headers: { ...RATE_LIMIT_HEADERS, ...NO_CACHE_HEADERS },
    'x-examples': { success: { summary: 'Erased', value: { success: true } } }
  },
  400: failure('The body is invalid, it names no DM, or the caller may not erase it.', {
    'invalid-params': {
      summary: 'The body does not name the DM (invalid-params)',
      value: fail("must have required property 'roomId'\n must have required property 'username'\n must match exactly one schema in oneOf [invalid-params]", 'invalid-params')
    },
    'invalid-channel': { summary: 'No such user or room, or a room that is not a DM (invalid-channel)', value: fail('[invalid-channel]', 'invalid-channel') },
    'error-not-allowed': { summary: 'The caller cannot reach the room', value: fail('Not allowed [error-not-allowed]', 'error-not-allowed') },
    'error-not-allowed-erase': { summary: 'The caller lacks delete-d', value: fail('Not allowed [error-not-allowed]', 'error-not-allowed', ERASE_ROOM) },
    'error-not-allowed-create': {
      summary: 'No DM with that user yet, and the caller lacks create-d',
      value: fail('Not allowed [error-not-allowed]', 'error-not-allowed', CREATE_DIRECT_MESSAGE)
    },
    'match-error': {
      summary: 'No DM yet with a user who has no username (Rocket.Chat\'s argument check)',
      value: { success: false, error: 'Match error: Expected string, got undefined in field [0]' }
    },
    'error-cannot-delete-federated-room': {
      summary: 'A federated room',
      value: fail('Cannot delete federated room [error-cannot-delete-federated-room]', 'error-cannot-delete-federated-room', ERASE_ROOM)
    },
    'error-app-prevented-deleting': {
      summary: 'A before-erase hook vetoed',
      value: fail('A Rocket.Chat App prevented the room erasing. [error-app-prevented-deleting]', 'error-app-prevented-deleting')
    },
    'error-invalid-room': { summary: 'Erased meanwhile by another request', value: fail('Invalid room [error-invalid-room]', 'error-invalid-room', ERASE_ROOM) }
  }),
  401: {
    description: 'Missing or wrong `X-User-Id` / `X-Auth-Token`.',
    type: 'object',
    properties: {
      success: { type: 'boolean', enum: [false] },
      status: { type: 'string', enum: ['error'] },
      message: { type: 'string' },
      error: { type: 'string' }
    },
    required: ['success', 'status', 'message', 'error'],
    'x-examples': {
      unauthorized: {
        summary: 'Not logged in',
        value: { success: false, status: 'error', message: 'You must be logged in to do this.', error: 'You must be logged in to do this.' }
      }
    }
  },
  413: failure('The body is larger than the `bodyLimit` option (64 KiB by default).', {
    'too-large': { summary: 'Body too large', value: fail('Request body is too large [invalid-params]', 'invalid-params') }
  }),
  429: {
    description: "Too many calls from this client IP to this route in the current window. Rocket.Chat's body: no `errorType`.",
    type: 'object',
    properties: { success: FAILURE_PROPERTIES.success, error: FAILURE_PROPERTIES.error },
    required: ['success', 'error'],
    headers: { ...RATE_LIMIT_HEADERS, ...NO_CACHE_HEADERS },
    'x-examples': {
      'error-too-many-requests': {
        summary: 'Rate limited',
        value: { success: false, error: 'Error, too many requests. Please slow down. You must wait 60 seconds before trying this endpoint again. [error-too-many-requests]' }
      }
    }
  },
  500: {
    description: 'The store or a hook failed; nothing was changed, and the cause is logged with the request id.',
    type: 'object',
    properties: { success: { type: 'boolean', enum: [false] }, error: { type: 'string' } },
    required: ['success', 'error'],
    'x-examples': { internal: { summary: 'Internal error', value: { success: false, error: 'Internal server error' } } }
  }
}

/** Every status carries the no-cache pair; 200 and 429 the rate-limit headers too. */
const RESPONSES = Object.fromEntries(Object.entries(RESPONSES_WITHOUT_HEADERS).map(([status, response]) =>
  [status, { ...response, headers: (response as { headers?: object }).headers ?? NO_CACHE_HEADERS }]))

const AUTH_HEADERS = {
  type: 'object',
  properties: {
    'X-User-Id': { type: 'string', description: 'The `_id` of the authenticated user.' },
    'X-Auth-Token': { type: 'string', description: 'A login token of that user.' }
  },
  required: ['X-User-Id', 'X-Auth-Token']
}

/** Rocket.Chat's two credential headers as OpenAPI security schemes (apiKey, in a header). */
const openapiSecuritySchemes = {
  'X-User-Id': { type: 'apiKey', in: 'header', name: 'X-User-Id', description: 'The `_id` of the authenticated user.' },
  'X-Auth-Token': { type: 'apiKey', in: 'header', name: 'X-Auth-Token', description: 'A login token of that user.' }
} as const

/** The security requirement of both routes: both headers, together. */
const openapiSecurity: Array<Record<keyof typeof openapiSecuritySchemes, string[]>> = [{ 'X-User-Id': [], 'X-Auth-Token': [] }]

/**
 * The form body as a form: Swagger UI draws fields only for an object schema with properties,
 * which Rocket.Chat's `oneOf` is not. Documentation only; requests are validated by the `oneOf`.
 */
const FORM_BODY = {
  type: 'object',
  description: 'Exactly one of `roomId` or `username`; a field sent empty counts as given (in Swagger UI, untick "Send empty value" under the one you leave empty).',
  // Empty examples, or Swagger UI fills each field with the word "string".
  properties: {
    roomId: { type: 'string', description: 'The `_id` of the DM.', example: '' },
    username: { type: 'string', description: 'The other member of the 1:1 DM (a leading `@` is ignored); your own username names your self-DM.', example: '' }
  }
}

interface OpenapiDocument { components?: { securitySchemes?: Record<string, unknown> } }

/**
 * @fastify/swagger's per-route transform (route `config.swaggerTransform`), run while it builds
 * the document: the body per media type, and the credentials as security schemes, which it
 * adds to the document unless the host declared schemes of those names itself. Then Swagger UI
 * has an Authorize button, and @fastify/swagger leaves out the two header parameters. In a
 * Swagger 2.0 document (no `openapiObject`) the headers stay parameters.
 */
export function swaggerTransform ({ schema, url, openapiObject }: { schema: FastifySchema, url: string, openapiObject?: OpenapiDocument }): { schema: FastifySchema, url: string } {
  if (openapiObject === undefined) return { schema, url }
  const components = openapiObject.components ??= {}
  components.securitySchemes = { ...openapiSecuritySchemes, ...components.securitySchemes }
  const body = {
    content: {
      'application/json': { schema: schema.body },
      'application/x-www-form-urlencoded': { schema: FORM_BODY }
    }
  }
  return { schema: { ...schema, body, security: openapiSecurity } as FastifySchema, url }
}
/** The documentation keys of a route's schema; `name` is `im.delete` or its alias `dm.delete`. */
export function routeDocs (name: string): Record<string, unknown> {
  return {
    summary: name === 'im.delete' ? 'Delete DM' : 'Delete DM (alias of im.delete)',
    description: DESCRIPTION,
    tags: ['DM'],
    consumes: ['application/json', 'application/x-www-form-urlencoded'],
    produces: ['application/json'],
    // Documentation only: the `authenticate` option decides, before validation runs.
    headers: AUTH_HEADERS,
    response: RESPONSES
  }
}
