import t from 'tap'
import { BODIES, DM_DELETE, IM_DELETE, build } from './helpers/app.js'
import { authHeaders, fixture } from './helpers/fixture.js'

const admin = authHeaders('admin')
const json = { ...admin, 'content-type': 'application/json' }
const form = { ...admin, 'content-type': 'application/x-www-form-urlencoded' }

const REQUIRED = "must have required property 'roomId'\n must have required property 'username'\n must match exactly one schema in oneOf"
const BOTH = 'must NOT have additional properties\n must NOT have additional properties\n must match exactly one schema in oneOf'
const NOT_STRING = "must be string\n must have required property 'username'\n must match exactly one schema in oneOf"
const NOT_OBJECT = 'must be object\n must be object\n must match exactly one schema in oneOf'

t.test("the spec's validation table, on both routes", async (t) => {
  const rows: Array<[string, string]> = [
    ['{}', REQUIRED],
    ['{"roomId":"a","username":"b"}', BOTH],
    ['{"roomId":{}}', NOT_STRING],
    ['[]', NOT_OBJECT],
    ['null', NOT_OBJECT],
    ['"alicebob"', NOT_OBJECT],
    ['{"username":["bob"]}', "must have required property 'roomId'\n must be string\n must match exactly one schema in oneOf"],
    ['{"roomId":"alicebob","extra":1}', "must NOT have additional properties\n must have required property 'username'\n must match exactly one schema in oneOf"]
  ]
  const { app, store } = await build()
  const before = await store.dump()
  for (const url of [IM_DELETE, DM_DELETE]) {
    for (const [payload, messages] of rows) {
      const res = await app.inject({ method: 'POST', url, headers: json, payload })
      t.equal(res.statusCode, 400, `${url} ${payload}`)
      t.equal(res.body, BODIES.invalidParams(messages), `${url} ${payload}`)
    }
  }
  t.same(await store.dump(), before, 'nothing changed')
})

t.test('the example body of the public docs page', async (t) => {
  const { app } = await build()
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin, payload: {} })
  t.equal(res.body, '{"success":false,"error":"must have required property \'roomId\'\\n must have required property \'username\'\\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}')
})

t.test('values are coerced to strings as Rocket.Chat does: {"roomId":5} names room "5"', async (t) => {
  const dataset = fixture()
  dataset.rooms.push({ _id: '5', t: 'd', uids: ['admin', 'carol'] })
  const { app, store } = await build({ dataset })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: '{"roomId":5}' })
  t.equal(res.body, BODIES.success)
  t.notOk((await store.dump()).rooms.some((room) => room._id === '5'))
  const bool = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: '{"username":true}' })
  t.equal(bool.body, BODIES.invalidChannel, 'true is coerced to "true", an unknown username')
  const nul = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: '{"roomId":null}' })
  t.equal(nul.body, BODIES.invalidChannel, 'null is coerced to "", no room')
})

t.test('an absent body reads as {} (Rocket.Chat parses none as an empty object)', async (t) => {
  const { app } = await build()
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: admin })
  t.equal(res.body, BODIES.invalidParams(REQUIRED))
})

t.test('form bodies (curl -d) are accepted and validated the same way', async (t) => {
  const prototypeKeys = Reflect.ownKeys(Object.prototype)
  const { app, store } = await build()
  const ok = await app.inject({ method: 'POST', url: IM_DELETE, headers: form, payload: 'roomId=alicebob' })
  t.equal(ok.body, BODIES.success)
  const byName = await app.inject({ method: 'POST', url: DM_DELETE, headers: form, payload: 'username=%40alice' })
  t.equal(byName.body, BODIES.success, 'username=@alice, percent-encoded')
  const rooms = (await store.dump()).rooms.map((room) => room._id)
  t.notOk(rooms.includes('alicebob') || rooms.includes('adminalice'))

  const rows: Array<[string, string]> = [
    ['', REQUIRED],
    ['roomId=a&username=b', BOTH],
    ['roomId=a&roomId=b', NOT_STRING],
    ['__proto__=x', REQUIRED],
    ['roomId=alicebob&__proto__=x', "must NOT have additional properties\n must have required property 'username'\n must match exactly one schema in oneOf"],
    ['constructor=x&roomId=y', "must NOT have additional properties\n must have required property 'username'\n must match exactly one schema in oneOf"]
  ]
  for (const [payload, messages] of rows) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: form, payload })
    t.equal(res.body, BODIES.invalidParams(messages), payload)
  }
  t.same(Reflect.ownKeys(Object.prototype), prototypeKeys, 'Object.prototype gained no key')
})

t.test('bodies that cannot be parsed are 400 invalid-params, oversized ones 413, in the same shape', async (t) => {
  const { app, store } = await build()
  const before = await store.dump()
  const cases: Array<[string, Record<string, string>, string, number, string]> = [
    ['malformed JSON', json, '{"roomId":', 400, "Body is not valid JSON but content-type is set to 'application/json'"],
    ['empty JSON', json, '', 400, "Body cannot be empty when content-type is set to 'application/json'"],
    ['unsupported type', { ...admin, 'content-type': 'text/plain' }, 'roomId=alicebob', 400, 'Unsupported Media Type'],
    ['a body without a content type', admin, 'roomId=alicebob', 400, 'Unsupported Media Type'],
    ['JSON with __proto__', json, '{"roomId":"alicebob","__proto__":{"polluted":true}}', 400, "Body is not valid JSON but content-type is set to 'application/json'"],
    ['JSON with constructor.prototype', json, '{"roomId":"alicebob","constructor":{"prototype":{"polluted":true}}}', 400, "Body is not valid JSON but content-type is set to 'application/json'"]
  ]
  for (const [name, headers, payload, status, message] of cases) {
    const res = await app.inject({ method: 'POST', url: IM_DELETE, headers, payload })
    t.equal(res.statusCode, status, name)
    t.equal(res.body, BODIES.invalidParams(message), name)
  }
  const huge = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: JSON.stringify({ roomId: 'x'.repeat(70_000) }) })
  t.equal(huge.statusCode, 413)
  t.equal(huge.body, BODIES.invalidParams('Request body is too large'))
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.same(await store.dump(), before)
})

t.test('bodyLimit is configurable', async (t) => {
  const { app } = await build({ bodyLimit: 16 })
  const res = await app.inject({ method: 'POST', url: IM_DELETE, headers: json, payload: '{"roomId":"alicebob"}' })
  t.equal(res.statusCode, 413)
})
