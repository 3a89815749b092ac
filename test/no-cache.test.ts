import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { errors } from '../index.js'
import { BODIES, DM_DELETE, IM_DELETE, build, faulty } from './helpers/app.js'
import { authHeaders } from './helpers/fixture.js'

// Rev 2: Rocket.Chat's REST layer sends Cache-Control: no-store and Pragma: no-cache on every
// answer; so must both our routes, whatever the status and whichever part of us answers.

function assertNoCache (t: Test, res: LightMyRequestResponse, name: string): void {
  t.equal(res.headers['cache-control'], 'no-store', `${name}: Cache-Control`)
  t.equal(res.headers.pragma, 'no-cache', `${name}: Pragma`)
}

type Case = [name: string, status: number, body: string, request: { headers?: Record<string, string>, payload?: string | object }]

const json = { 'content-type': 'application/json' }

t.test('every answer of both routes, every status, says not to cache it', async (t) => {
  const cases: Case[] = [
    ['200', 200, BODIES.success, { headers: authHeaders('admin'), payload: { roomId: 'adminalice' } }],
    ['401 without credentials', 401, BODIES.unauthorized, { payload: { roomId: 'alicebob' } }],
    // Answered from onRequest: the body is never read, so neither its size nor its syntax counts.
    ['401 before an oversized body is read', 401, BODIES.unauthorized, { payload: { roomId: 'x'.repeat(5000) } }],
    ['401 before a malformed body is read', 401, BODIES.unauthorized, { headers: json, payload: '{"roomId":' }],
    ['400 malformed JSON', 400, BODIES.invalidParams("Body is not valid JSON but content-type is set to 'application/json'"), { headers: { ...authHeaders('admin'), ...json }, payload: '{"roomId":' }],
    ['400 unsupported content type', 400, BODIES.invalidParams('Unsupported Media Type'), { headers: { ...authHeaders('admin'), 'content-type': 'text/csv' }, payload: 'a,b' }],
    ['413', 413, BODIES.invalidParams('Request body is too large'), { headers: authHeaders('admin'), payload: { roomId: 'x'.repeat(5000) } }],
    ['400 invalid-params', 400, BODIES.invalidParams("must have required property 'roomId'\n must have required property 'username'\n must match exactly one schema in oneOf"), { headers: authHeaders('admin'), payload: {} }],
    ['400 invalid-channel', 400, BODIES.invalidChannel, { headers: authHeaders('admin'), payload: { roomId: 'general' } }],
    ['400 create-d', 400, BODIES.createNotAllowed, { headers: authHeaders('alice'), payload: { username: 'carol' } }],
    ['400 no username', 400, BODIES.usernameMissing, { headers: authHeaders('admin'), payload: { username: 'nameless' } }],
    ['400 not allowed', 400, BODIES.notAllowed, { headers: authHeaders('carol'), payload: { roomId: 'alicebob' } }],
    ['400 federated', 400, BODIES.federated, { headers: authHeaders('admin'), payload: { roomId: 'fed-dm' } }],
    ['400 delete-d', 400, BODIES.eraseNotAllowed, { headers: authHeaders('alice'), payload: { roomId: 'alicebob' } }],
    ['400 vetoed', 400, BODIES.appPrevented, { headers: authHeaders('admin'), payload: { roomId: 'adminbob' } }]
  ]
  for (const url of [IM_DELETE, DM_DELETE]) {
    const { app } = await build({ bodyLimit: 1024, permissions: { 'create-d': ['bot'] }, onBeforeErase: ({ room }) => room._id !== 'adminbob' })
    for (const [name, status, body, request] of cases) {
      const res = await app.inject({ method: 'POST', url, ...request })
      t.equal(res.statusCode, status, `${url} ${name}: status`)
      t.equal(res.body, body, `${url} ${name}: body`)
      assertNoCache(t, res, `${url} ${name}`)
    }
  }
})

t.test('429, with the body Rocket.Chat sends (no errorType), says not to cache it either', async (t) => {
  const { app } = await build({ rateLimit: { max: 1, timeWindow: 60_000 } })
  for (const url of [IM_DELETE, DM_DELETE]) {
    const send = async (): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url, headers: authHeaders('alice'), payload: { roomId: 'nope' } })
    assertNoCache(t, await send(), `${url} first call`)
    const res = await send()
    t.equal(res.statusCode, 429)
    t.equal(res.body, BODIES.tooManyRequests(60), `${url}: the 429 body, byte for byte`)
    t.notOk('errorType' in JSON.parse(res.body))
    assertNoCache(t, res, `${url} 429`)
  }
})

t.test('500s say not to cache them: from the store, from authenticate (in onRequest), and from a veto hook', async (t) => {
  const { store } = await build()
  const broken = await build({ store: faulty(store, { findRoomById: () => { throw new Error('db down') } }) })
  const hook = await build({ onBeforeErase: () => { throw new Error('hook down') } })
  const auth = await build({ authenticate: () => { throw new Error('auth down') } })
  const refusing = await build({ authenticate: () => { throw new errors.UnauthorizedError() } })
  for (const url of [IM_DELETE, DM_DELETE]) {
    for (const [name, app, status, body] of [
      ['store', broken.app, 500, BODIES.internal],
      ['before-erase hook', hook.app, 500, BODIES.internal],
      ['authenticate', auth.app, 500, BODIES.internal],
      ['authenticate throwing UnauthorizedError', refusing.app, 401, BODIES.unauthorized]
    ] as const) {
      const res = await app.inject({ method: 'POST', url, headers: authHeaders('admin'), payload: { roomId: 'adminalice' } })
      t.equal(res.statusCode, status, `${url} ${name}`)
      t.equal(res.body, body, `${url} ${name}`)
      assertNoCache(t, res, `${url} ${name}`)
    }
  }
})

t.test("the host's own routes are left alone", async (t) => {
  const { app } = await build()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/api/v1/other' })
  t.equal(res.statusCode, 404)
  t.equal(res.headers['cache-control'], undefined)
  t.equal(res.headers.pragma, undefined)
})
