import swagger from '@fastify/swagger'
import { Validator } from '@seriousme/openapi-schema-validator'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { ownCredentials } from '../examples/openapi-credentials.js'
import imDeletePlugin, { MemoryStore } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'

const STATUSES = ['200', '400', '401', '413', '429', '500']

interface Operation {
  summary: string
  description: string
  tags: string[]
  parameters?: Array<{ in: string, name: string, required: boolean, schema: { type: string } }>
  security: unknown
  requestBody: { required: boolean, content: Record<string, { schema: unknown }> }
  responses: Record<string, { description: string, headers?: Record<string, unknown>, content: Record<string, { examples: Record<string, { value: unknown }> }> }>
}

async function documented (openapi: string, components?: object): Promise<{ app: FastifyInstance, document: any }> {
  const app = Fastify()
  await app.register(swagger, { openapi: { openapi, info: { title: 'chat', version: '1.0.0' }, ...(components === undefined ? {} : { components }) } })
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()) })
  await app.ready()
  return { app, document: app.swagger() }
}

for (const version of ['3.0.3', '3.1.0']) {
  t.test(`@fastify/swagger renders a valid OpenAPI ${version} document`, async (t) => {
    const { app, document } = await documented(version)
    t.teardown(() => app.close())
    const result = await new Validator().validate(document)
    t.same(result.errors, undefined, 'no schema violation')
    t.equal(result.valid, true)
    t.same(Object.keys(document.paths).sort(), [DM_DELETE, IM_DELETE].sort(), 'both routes, and nothing else')
  })
}

t.test('each route is fully described', async (t) => {
  const { app, document } = await documented('3.0.3')
  t.teardown(() => app.close())
  for (const path of [IM_DELETE, DM_DELETE]) {
    const operation: Operation = document.paths[path].post
    t.match(operation.summary, /^Delete DM/, `${path} summary`)
    t.match(operation.description, /delete-d/, `${path} description names the permission`)
    t.same(operation.tags, ['DM'])
    // The credentials are security schemes (Swagger UI's Authorize), not parameters typed per route.
    t.same(operation.security, [{ 'X-User-Id': [], 'X-Auth-Token': [] }], `${path} needs both credentials`)
    t.equal(operation.parameters, undefined, `${path} has no header parameters`)
    t.equal(operation.requestBody.required, true)
    t.same(Object.keys(operation.requestBody.content), ['application/json', 'application/x-www-form-urlencoded'], 'JSON and form bodies')
    t.match(operation.requestBody.content['application/json'].schema, { oneOf: [{ required: ['roomId'] }, { required: ['username'] }] })
    // A form is drawn as fields only for an object schema with properties.
    t.match(operation.requestBody.content['application/x-www-form-urlencoded'].schema, { type: 'object', properties: { roomId: { type: 'string' }, username: { type: 'string' } } })
    t.same(Object.keys(operation.responses), STATUSES, `${path} every status`)
    for (const status of STATUSES) {
      const response = operation.responses[status]
      t.ok(response.description.length > 0, `${path} ${status} described`)
      t.ok(Object.keys(response.content['application/json'].examples).length > 0, `${path} ${status} has an example`)
    }
    for (const status of STATUSES) {
      const rateLimited = status === '200' || status === '429'
      t.same(Object.keys(operation.responses[status].headers ?? {}), [...(rateLimited ? ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'] : []), 'Cache-Control', 'Pragma'],
        `${path} ${status} headers`)
    }
  }
})

t.test('the document declares the two headers as apiKey security schemes', async (t) => {
  const { app, document } = await documented('3.0.3')
  t.teardown(() => app.close())
  t.same(Object.keys(document.components.securitySchemes), ['X-User-Id', 'X-Auth-Token'])
  for (const name of ['X-User-Id', 'X-Auth-Token']) {
    t.match(document.components.securitySchemes[name], { type: 'apiKey', in: 'header', name }, name)
  }
})

t.test('schemes the host declared under those names are kept, and the host\'s others too', async (t) => {
  const own = { type: 'apiKey', in: 'header', name: 'X-User-Id', description: 'ours' }
  const bearer = { type: 'http', scheme: 'bearer' }
  const { app, document } = await documented('3.0.3', { securitySchemes: { 'X-User-Id': own, bearer } })
  t.teardown(() => app.close())
  t.same(document.components.securitySchemes['X-User-Id'], own)
  t.same(document.components.securitySchemes.bearer, bearer)
  t.match(document.components.securitySchemes['X-Auth-Token'], { type: 'apiKey', name: 'X-Auth-Token' })
  const result = await new Validator().validate(document)
  t.equal(result.valid, true, 'still a valid document')
})

t.test('a host with its own authenticate swaps the two headers for its own scheme (examples/openapi-credentials.ts)', async (t) => {
  const app = Fastify()
  await app.register(swagger, {
    openapi: { openapi: '3.0.3', info: { title: 'chat', version: '1.0.0' }, components: { securitySchemes: { session: { type: 'http', scheme: 'bearer' } } } },
    transformObject: ownCredentials('session')
  })
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()), authenticate: () => null })
  app.post('/api/v1/chat.postMessage', { schema: { body: { type: 'object' } } }, async () => ({}))
  await app.ready()
  t.teardown(() => app.close())
  const document: any = app.swagger()
  t.same(Object.keys(document.components.securitySchemes), ['session'], 'only the host\'s scheme is declared')
  for (const path of [IM_DELETE, DM_DELETE]) t.same(document.paths[path].post.security, [{ session: [] }], `${path} requires it`)
  t.equal(document.paths['/api/v1/chat.postMessage'].post.security, undefined, 'a route of the host keeps what it had')
  t.equal((await new Validator().validate(document)).valid, true, 'a valid document')
  const swaggerObject = { swagger: '2.0' }
  t.equal(ownCredentials('session')({ swaggerObject }), swaggerObject, 'a Swagger 2.0 document passes as it is')
  const bare = { openapi: '3.0.3' }
  t.same(ownCredentials('session')({ openapiObject: bare }), { openapi: '3.0.3' }, 'a document without paths or schemes, as it is')
})

t.test('a Swagger 2.0 document keeps the credentials as header parameters', async (t) => {
  const app = Fastify()
  await app.register(swagger, { swagger: { info: { title: 'chat', version: '1.0.0' } } })
  await app.register(imDeletePlugin, { store: new MemoryStore(fixture()) })
  await app.ready()
  t.teardown(() => app.close())
  const document: any = app.swagger()
  const headers = (document.paths[IM_DELETE].post.parameters as Array<{ in: string, name: string, required: boolean }>)
    .filter((p) => p.in === 'header').map((p) => [p.name, p.required])
  t.same(headers, [['X-User-Id', true], ['X-Auth-Token', true]])
  t.equal(document.paths[IM_DELETE].post.security, undefined)
})

t.test('every documented example is a body the route really sends, byte for byte', async (t) => {
  const { app, document } = await documented('3.0.3')
  t.teardown(() => app.close())
  const wire = new Set(Object.values(BODIES).map((body) => typeof body === 'string' ? body : ''))
  wire.add(BODIES.tooManyRequests(60))
  wire.add(BODIES.invalidParams('Request body is too large'))
  wire.add(BODIES.invalidParams("must have required property 'roomId'\n must have required property 'username'\n must match exactly one schema in oneOf"))
  const operation: Operation = document.paths[IM_DELETE].post
  for (const status of STATUSES) {
    for (const [name, example] of Object.entries(operation.responses[status].content['application/json'].examples)) {
      t.ok(wire.has(JSON.stringify(example.value)), `${status} ${name}`, { example: example.value })
    }
  }
})

t.test('with the documentation registered, replies keep their exact bytes', async (t) => {
  const { app } = await documented('3.0.3')
  t.teardown(() => app.close())
  const send = async (headers: Record<string, string>, payload: object): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: IM_DELETE, headers, payload })
  t.equal((await send({}, { roomId: 'alicebob' })).body, BODIES.unauthorized)
  t.equal((await send(authHeaders('admin'), { roomId: 'general' })).body, BODIES.invalidChannel)
  t.equal((await send(authHeaders('admin'), { roomId: 'fed-dm' })).body, BODIES.federated)
  t.equal((await send(authHeaders('alice'), { roomId: 'alicebob' })).body, BODIES.eraseNotAllowed)
  const erased = await send(authHeaders('admin'), { roomId: 'adminalice' })
  t.equal(erased.body, BODIES.success)
  t.equal(erased.headers['content-type'], 'application/json; charset=utf-8')
})

t.test('the credentials schema documents headers without checking them: authenticate decides', async (t) => {
  const app = Fastify()
  await app.register(imDeletePlugin, {
    store: new MemoryStore(fixture()),
    rateLimit: false,
    authenticate: (request) => request.headers.authorization === 'Bearer admin' ? { _id: 'admin', username: 'admin', roles: ['admin'] } : null
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: { authorization: 'Bearer admin' }, payload: { roomId: 'adminalice' } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, BODIES.success)
})
