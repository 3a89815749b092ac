import assert from 'node:assert/strict'
import { Ajv2020 } from 'ajv/dist/2020.js'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { MemoryStore, createHasPermission, type Dataset, type Dump, type Room, type Subscription } from '../index.js'
import { STORE_METHODS } from '../lib/store.js'
import { BODIES, DM_DELETE, IM_DELETE, build, type TestStore } from './helpers/app.js'
import { TOKENS, authHeaders, fixture, type Who } from './helpers/fixture.js'
import { SEED_NOTE, runs } from './helpers/fuzz.js'

t.comment(SEED_NOTE)

// ---------------------------------------------------------------------------------------------
// The oracle: Rocket.Chat's body schema and ajv options, written out from the spec rather than
// imported from lib/, so that a drift in either shows up as a disagreement.
// ---------------------------------------------------------------------------------------------

const oracle = new Ajv2020({ coerceTypes: true, allowUnionTypes: true, allErrors: false, strict: false })
const validateBody = oracle.compile({
  oneOf: [
    { type: 'object', properties: { roomId: { type: 'string' } }, required: ['roomId'], additionalProperties: false },
    { type: 'object', properties: { username: { type: 'string' } }, required: ['username'], additionalProperties: false }
  ]
})

/** The step-3 answer Rocket.Chat gives for this parsed body; null when the body is valid. */
function oracleAnswer (body: unknown): string | null {
  // ajv coerces in place: the caller hands over a body nobody else looks at.
  if (validateBody(body)) return null
  return BODIES.invalidParams((validateBody.errors ?? []).map((error) => error.message).join('\n '))
}

const UNPARSEABLE_JSON = BODIES.invalidParams("Body is not valid JSON but content-type is set to 'application/json'")

/** Keys Fastify's safe JSON parser may refuse the whole body for (the spec allows either answer). */
function hasPoisonKey (text: string): boolean {
  // A walk with an explicit stack: a reviver would recurse, and the bodies nest thousands deep.
  const stack: unknown[] = [JSON.parse(text)]
  while (stack.length > 0) {
    const value = stack.pop()
    if (value === null || typeof value !== 'object') continue
    if (Object.hasOwn(value, '__proto__')) return true
    const ctor = (value as Record<string, unknown>).constructor
    if (Object.hasOwn(value, 'constructor') && ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) return true
    stack.push(...Object.values(value))
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// What every answer must look like, whatever came in.
// ---------------------------------------------------------------------------------------------

const EXACT_400 = new Set([
  BODIES.invalidChannel, BODIES.notAllowed, BODIES.createNotAllowed, BODIES.usernameMissing, BODIES.eraseNotAllowed, BODIES.federated, BODIES.appPrevented, BODIES.invalidRoom
])
const TOO_MANY = /^Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this endpoint again\. \[error-too-many-requests\]$/

/** A documented status, and Rocket.Chat's body for it: exact keys in their order. */
function assertRocketChatShape (res: LightMyRequestResponse): void {
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(res.headers['cache-control'], 'no-store')
  assert.equal(res.headers.pragma, 'no-cache')
  const body = JSON.parse(res.body)
  switch (res.statusCode) {
    case 200:
      assert.equal(res.body, BODIES.success)
      break
    case 401:
      assert.equal(res.body, BODIES.unauthorized)
      break
    case 413:
      assert.equal(res.body, BODIES.invalidParams('Request body is too large'))
      break
    case 429:
      assert.deepEqual(Object.keys(body), ['success', 'error'])
      assert.match(body.error, TOO_MANY)
      break
    case 400:
      if (EXACT_400.has(res.body)) break
      assert.deepEqual(Object.keys(body), ['success', 'error', 'errorType'], res.body)
      assert.equal(body.success, false)
      assert.equal(body.errorType, 'invalid-params')
      assert.ok(body.error.endsWith(' [invalid-params]'), res.body)
      break
    default:
      assert.fail(`undocumented status ${res.statusCode}: ${res.body}`)
  }
}

const PROTOTYPE_KEYS = {
  object: Reflect.ownKeys(Object.prototype),
  array: Reflect.ownKeys(Array.prototype),
  function: Reflect.ownKeys(Function.prototype)
}

function assertNoPollution (): void {
  assert.deepEqual(Reflect.ownKeys(Object.prototype), PROTOTYPE_KEYS.object, 'Object.prototype gained or lost a key')
  assert.deepEqual(Reflect.ownKeys(Array.prototype), PROTOTYPE_KEYS.array, 'Array.prototype gained or lost a key')
  assert.deepEqual(Reflect.ownKeys(Function.prototype), PROTOTYPE_KEYS.function, 'Function.prototype gained or lost a key')
}

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

const FIXTURE = fixture()
const ROOM_IDS = FIXTURE.rooms.map((room) => room._id)
const USERNAMES = FIXTURE.users.flatMap((user) => user.username === undefined ? [] : [user.username])
const POISON = ['__proto__', 'constructor', 'prototype']

/** Keys an attacker would try: the real ones, near misses, prototype names, anything. */
const key = fc.oneof(
  { arbitrary: fc.constantFrom('roomId', 'username'), weight: 4 },
  { arbitrary: fc.constantFrom(...POISON, 'toString', 'hasOwnProperty', 'valueOf', 'roomid', 'roomId ', 'user name', '', '0'), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 8 }), weight: 1 }
)

const hostileString = fc.oneof(
  fc.constantFrom(...ROOM_IDS, ...USERNAMES, ...USERNAMES.map((name) => `@${name}`), '@@bob', '@', '', ' alicebob', 'nameless', '#', '#alicebob', '#bob', 'b@ob', ...POISON),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  // Lone surrogates: JSON can carry them, most string handling trips on them.
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 3 })
)

/** JSON text for a value: scalars of every type, number literals JSON.parse bends, nesting, duplicate and escaped keys. */
const { json } = fc.letrec<{ json: string, scalar: string, array: string, object: string }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('scalar'), tie('array'), tie('object')),
  scalar: fc.oneof(
    hostileString.map((value) => JSON.stringify(value)),
    fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)).map((value) => JSON.stringify(value)),
    fc.constantFrom('1e400', '-0', '1e-400', '123456789012345678901234567890', '0.1', '-1')
  ),
  array: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(keyText(), tie('json')), { maxLength: 4 }).map(objectText)
}))

function keyText (): fc.Arbitrary<string> {
  // JSON lets a key be spelled with escapes; a parser's __proto__ guard has to see through them.
  return fc.oneof({ arbitrary: key.map((name) => JSON.stringify(name)), weight: 9 }, { arbitrary: fc.constantFrom('"\\u005f_proto__"', '"__pro\\u0074o__"', '"constructo\\u0072"'), weight: 1 })
}

function objectText (entries: Array<[string, string]>): string {
  return `{${entries.map(([name, value]) => `${name}:${value}`).join(',')}}`
}

/** Nesting far deeper than any real body, at the root or under a real key. */
const deep = fc.tuple(fc.integer({ min: 50, max: 3000 }), fc.constantFrom(['[', ']'], ['{"a":', '}'], ['{"__proto__":', '}']), fc.constantFrom('', 'roomId', 'username'))
  .map(([depth, [open, close], under]) => {
    const nested = open.repeat(depth) + '1' + close.repeat(depth)
    return under === '' ? nested : `{"${under}":${nested}}`
  })

/** One real key with a scalar: valid unless the value's type is wrong; names real rooms and users. */
const plausible = fc.tuple(fc.constantFrom('roomId', 'username'), fc.oneof(
  { arbitrary: fc.constantFrom(...ROOM_IDS, ...USERNAMES, ...USERNAMES.map((name) => `@${name}`)), weight: 4 },
  { arbitrary: hostileString, weight: 2 },
  fc.integer(), fc.boolean(), fc.constant(null)
))

/** Bodies shaped like the real ones, most with one or more things wrong. */
const jsonBody = fc.oneof(
  { arbitrary: plausible.map(([name, value]) => JSON.stringify({ [name]: value })), weight: 3 },
  { arbitrary: fc.array(fc.tuple(keyText(), json), { maxLength: 3 }).map(objectText), weight: 6 },
  { arbitrary: json, weight: 2 },
  { arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)), weight: 1 },
  { arbitrary: deep, weight: 1 }
).chain((text) => fc.constantFrom(text, ` ${text}\n`, `\t${text}`))

type FormEntry = [name: string, value: string, withoutEquals: boolean]

const formEntry: fc.Arbitrary<FormEntry> = fc.tuple(key, hostileString, fc.boolean())
  // encodeURIComponent refuses lone surrogates: a client cannot send them either.
  .filter(([name, value]) => isWellFormed(name) && isWellFormed(value))

function isWellFormed (text: string): boolean {
  try {
    encodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

/** A form body as a browser or curl encodes it, with empty pairs and `+` for spaces thrown in. */
const formBody = fc.record({
  entries: fc.array(formEntry, { maxLength: 4 }),
  plus: fc.boolean(),
  noise: fc.boolean()
}).map(({ entries, plus, noise }) => {
  const encode = (text: string): string => plus ? encodeURIComponent(text).replace(/%20/g, '+') : encodeURIComponent(text)
  const pairs = entries.map(([name, value, withoutEquals]) => withoutEquals ? encode(name) : `${encode(name)}=${encode(value)}`)
  return { entries, text: (noise ? ['', ...pairs, ''] : pairs).join('&') }
})

/**
 * What a form body means, decoded without the server's parser: each named field once as a
 * string, a repeated one as an array; a pair with neither name nor `=` is nothing.
 */
function decodeForm (entries: FormEntry[]): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null)
  for (const [name, value, withoutEquals] of entries) {
    if (name === '' && withoutEquals) continue
    const text = withoutEquals ? '' : value
    const seen = fields[name]
    fields[name] = seen === undefined ? text : Array.isArray(seen) ? [...seen, text] : [seen, text]
  }
  return fields
}

/** Anything at all, in the characters body parsers care about. */
const garbage = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('%', '&', '=', '+', '{', '}', '[', ']', '"', ':', ',', '\\', 'a', '_', '\u0000', ' ', 'é', '\ufeff'), maxLength: 60 })
)

// ---------------------------------------------------------------------------------------------
// 1. Arbitrary requests: documented answers only, never a crash, the server keeps serving.
// ---------------------------------------------------------------------------------------------

const BODY_LIMIT = 2048
const MAX_CALLS = 5
const IPS = Array.from({ length: 20 }, (_, i) => `10.0.0.${i + 1}`)
const CALLERS = ['admin', 'alice', 'bob', 'carol', 'bot', 'nameless'] as const satisfies readonly Who[]
const BYPASS_RATE_LIMIT = new Set(['admin', 'bot'])
/** Media types our routes parse (case and parameters do not matter); every other one is refused before the body is read. */
const isParsed = (type: string | undefined): boolean => type !== undefined && ['application/json', 'application/x-www-form-urlencoded'].includes(type.split(';')[0].trim().toLowerCase())

type HeaderValue = string | string[] | undefined

/** A credential header: the right value, nothing, empty, repeated, control characters, unicode. */
function credential (right: string, otherRight: string): fc.Arbitrary<HeaderValue> {
  return fc.oneof(
    { arbitrary: fc.constant(right), weight: 24 },
    { arbitrary: fc.constantFrom(undefined, '', otherRight, `${right} `, `${right}\u0000`, `${right}\u001b[0m`, `${right}\r\n`), weight: 2 },
    { arbitrary: fc.constant<HeaderValue>([right, right]), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 }
  )
}

const credentials = fc.constantFrom(...CALLERS).chain((who) => fc.record({
  who: fc.constant(who),
  userId: credential(who, 'ghost'),
  token: credential(TOKENS[who], `old-${who}`)
}))

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=utf-16']
const FORM_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=latin1']
const OTHER_TYPES = [undefined, '', 'text/plain', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json, text/plain', '*/*']

const formText = formBody.map((form) => form.text)
const plausibleForm = plausible.filter(([, value]) => isWellFormed(String(value))).map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`)

/** A body and its content type: mostly matching, sometimes not, sometimes none; some too large. */
const body = fc.oneof(
  { arbitrary: fc.record({ contentType: fc.constantFrom(...JSON_TYPES), payload: jsonBody }), weight: 4 },
  { arbitrary: fc.record({ contentType: fc.constantFrom(...FORM_TYPES), payload: fc.oneof(formText, plausibleForm) }), weight: 3 },
  { arbitrary: fc.record({ contentType: fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES), payload: fc.oneof(jsonBody, formText, garbage, fc.constant(undefined)) }), weight: 2 },
  {
    // Too large by a little or by a lot; the limit counts bytes, so some of it is multi-byte.
    arbitrary: fc.record({
      contentType: fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES),
      payload: fc.tuple(fc.integer({ min: BODY_LIMIT - 20, max: 4 * BODY_LIMIT }), fc.constantFrom('x', 'é', '😀'))
        .map(([size, unit]) => `{"roomId":"${unit.repeat(size / Buffer.byteLength(unit))}"}`)
    }),
    weight: 1
  }
)

const request = fc.record({
  url: fc.constantFrom(IM_DELETE, DM_DELETE),
  credentials,
  ip: fc.constantFrom(...IPS),
  body
})

t.test('any request gets a documented status in Rocket.Chat\'s shape, and the server keeps serving', async (t) => {
  const { app } = await build({ rateLimit: { max: MAX_CALLS, timeWindow: 3_600_000 }, bodyLimit: BODY_LIMIT })
  const calls = new Map<string, number>()
  const seen = new Map<number, number>()
  await fc.assert(fc.asyncProperty(request, async ({ url, credentials: { who, userId, token }, ip, body: { contentType, payload } }) => {
    const headers: Record<string, string | string[]> = {}
    if (userId !== undefined) headers['x-user-id'] = userId
    if (token !== undefined) headers['x-auth-token'] = token
    if (contentType !== undefined) headers['content-type'] = contentType
    const res = await app.inject({ method: 'POST', url, remoteAddress: ip, headers, payload })
    seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1)
    assertRocketChatShape(res)

    // Predict what the spec fixes before the body is looked at: 401, then 429, then 413.
    const authenticated = who !== 'nameless' && userId === who && (token === TOKENS[who] || token === `old-${who}`)
    if (!authenticated) {
      assert.equal(res.statusCode, 401, 'unauthenticated')
    } else {
      const limited = !BYPASS_RATE_LIMIT.has(who)
      const count = limited ? (calls.get(`${url}|${ip}`) ?? 0) + 1 : 0
      if (limited) calls.set(`${url}|${ip}`, count)
      const tooLarge = payload !== undefined && isParsed(contentType) && Buffer.byteLength(payload) > BODY_LIMIT
      const expected = count > MAX_CALLS ? 429 : tooLarge ? 413 : undefined
      if (expected !== undefined) assert.equal(res.statusCode, expected)
      else assert.ok(res.statusCode === 200 || res.statusCode === 400, `status ${res.statusCode}`)
      assert.equal(res.headers['x-ratelimit-limit'], limited ? String(MAX_CALLS) : undefined, 'rate-limit headers exactly for limited callers')
    }
    assertNoPollution()
    const canary = await app.inject({ method: 'POST', url: IM_DELETE, headers: authHeaders('admin'), payload: { roomId: 'no-such-room' } })
    assert.equal(canary.body, BODIES.invalidChannel, 'the server still serves')
  }), runs(1200))
  t.comment(`statuses seen: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`)
  for (const status of [200, 400, 401, 413, 429]) t.ok(seen.has(status), `the generator reached status ${status}`)
})

// ---------------------------------------------------------------------------------------------
// 2. Differential: our validation answers exactly what the independent oracle answers.
// ---------------------------------------------------------------------------------------------

/** Anything but step 3's answer: the body was valid and went on to be resolved. */
function assertAccepted (res: LightMyRequestResponse): void {
  assert.ok(res.statusCode === 200 || (res.statusCode === 400 && EXACT_400.has(res.body)), `a valid body was refused: ${res.statusCode} ${res.body}`)
}

t.test('JSON bodies: refused exactly when, and with exactly the message, Rocket.Chat\'s ajv gives', async (t) => {
  const { app } = await build()
  const tally = { valid: 0, invalid: 0, poisoned: 0 }
  await fc.assert(fc.asyncProperty(jsonBody, fc.constantFrom(IM_DELETE, DM_DELETE), async (text, url) => {
    const res = await app.inject({ method: 'POST', url, headers: { ...authHeaders('admin'), 'content-type': 'application/json' }, payload: text })
    const expected = oracleAnswer(JSON.parse(text))
    if (hasPoisonKey(text)) {
      // The spec lets a __proto__ (or constructor.prototype) body be refused as unparseable.
      tally.poisoned++
      assert.ok(expected !== null, 'a body with a prototype key is never valid')
      assert.ok(res.body === UNPARSEABLE_JSON || res.body === expected, res.body)
    } else if (expected === null) {
      tally.valid++
      assertAccepted(res)
    } else {
      tally.invalid++
      assert.equal(res.body, expected)
    }
    assertNoPollution()
  }), runs(1200))
  t.comment(`JSON bodies: ${JSON.stringify(tally)}`)
  t.ok(tally.valid > 50 && tally.invalid > 50 && tally.poisoned > 20, 'the generator reaches valid, invalid and poisoned bodies')
})

t.test('form bodies: refused exactly when, and with exactly the message, Rocket.Chat\'s ajv gives', async (t) => {
  const { app } = await build()
  const tally = { valid: 0, invalid: 0 }
  await fc.assert(fc.asyncProperty(formBody, fc.constantFrom(IM_DELETE, DM_DELETE), async ({ entries, text }, url) => {
    const res = await app.inject({ method: 'POST', url, headers: { ...authHeaders('admin'), 'content-type': 'application/x-www-form-urlencoded' }, payload: text })
    const expected = oracleAnswer(decodeForm(entries))
    if (expected === null) {
      tally.valid++
      assertAccepted(res)
    } else {
      tally.invalid++
      assert.equal(res.body, expected, text)
    }
    assertNoPollution()
  }), runs(800))
  t.comment(`form bodies: ${JSON.stringify(tally)}`)
  t.ok(tally.valid > 50 && tally.invalid > 50, 'the generator reaches valid and invalid bodies')
})

// ---------------------------------------------------------------------------------------------
// 3. No collateral damage: random callers, random targets, random permission tables, random
//    worlds; after every request the store is exactly what the spec says it must be.
// ---------------------------------------------------------------------------------------------

const ROLES = ['admin', 'user', 'bot', 'guest', 'owner', 'moderator']
const PERMISSIONS = ['view-room-administration', 'delete-d', 'view-d-room', 'view-joined-room', 'create-d', 'api-bypass-rate-limit'] as const
type Table = Record<typeof PERMISSIONS[number], string[]>

/** Rocket.Chat's defaults, for the roles of this world. */
const DEFAULTS: Table = {
  'view-room-administration': ['admin'],
  'delete-d': ['admin'],
  'view-d-room': ['admin', 'user', 'bot', 'guest'],
  'view-joined-room': ['guest', 'bot'],
  'create-d': ['admin', 'user', 'bot'],
  'api-bypass-rate-limit': ['admin', 'bot']
}

const table: fc.Arbitrary<Table> = fc.oneof(
  // Rocket.Chat's defaults, and the common change of letting users delete their own DMs.
  fc.constant<Table>(DEFAULTS),
  fc.constant<Table>({ ...DEFAULTS, 'delete-d': ['admin', 'user'] }),
  fc.record(Object.fromEntries(PERMISSIONS.map((name) => [name, fc.subarray(ROLES)])) as Record<keyof Table, fc.Arbitrary<string[]>>)
)

/**
 * Users beyond the fixture's (whose ids are their usernames): one whose id is not his username,
 * and a deactivated one whose username is a DM's id (a user wins over a room of that id).
 */
const EXTRA_USERS = [
  { _id: 'u-dave', username: 'dave', roles: ['user'] },
  { _id: 'u-erin', username: 'adminbob', roles: ['user'], active: false }
]
const USER_IDS = [...FIXTURE.users, ...EXTRA_USERS].map((user) => user._id)
const EXTRA_ROOMS = ['x0', 'x1', 'x2', 'x3', 'x4']
const ALL_ROOMS = [...ROOM_IDS, ...EXTRA_ROOMS]

/** More rooms on top of the fixture: DMs (some sharing members with fixture DMs), channels, discussions, cycles. */
const world: fc.Arbitrary<Required<Dataset>> = fc.record({
  rooms: fc.array(fc.record({
    t: fc.constantFrom('d', 'd', 'c', 'p', 'l'),
    uids: fc.oneof(fc.constantFrom(...FIXTURE.rooms.flatMap((room) => room.uids === undefined ? [] : [room.uids])), fc.subarray(USER_IDS, { minLength: 1, maxLength: 3 })),
    prid: fc.option(fc.constantFrom(...ALL_ROOMS), { nil: undefined }),
    federated: fc.boolean()
  }), { maxLength: EXTRA_ROOMS.length }),
  subscriptions: fc.uniqueArray(fc.record({ rid: fc.constantFrom(...ALL_ROOMS), uid: fc.constantFrom(...USER_IDS), roles: fc.subarray(['owner', 'moderator']) }),
    { maxLength: 8, selector: (sub) => `${sub.rid}|${sub.uid}` }),
  content: fc.array(fc.tuple(fc.constantFrom('messages', 'uploads', 'readReceipts'), fc.constantFrom(...ALL_ROOMS)), { maxLength: 10 })
}).map(({ rooms, subscriptions, content }) => {
  const data = fixture()
  data.users.push(...structuredClone(EXTRA_USERS))
  // Stores refuse documents naming a room that does not exist (no orphans): name only real ones.
  const exists = new Set([...ROOM_IDS, ...EXTRA_ROOMS.slice(0, rooms.length)])
  rooms.forEach(({ t: type, uids, prid, federated }, i) => {
    data.rooms.push({ _id: EXTRA_ROOMS[i], t: type, uids, usernames: uids, ...(prid === undefined || !exists.has(prid) ? {} : { prid }), ...(federated ? { federated } : {}) })
  })
  for (const { rid, uid, roles } of subscriptions.filter((sub) => exists.has(sub.rid))) {
    // The fixture already subscribes some of these pairs; the generated one then replaces it.
    data.subscriptions = data.subscriptions.filter((sub) => !(sub.rid === rid && sub.u._id === uid))
    data.subscriptions.push({ _id: `xs-${rid}-${uid}`, rid, u: { _id: uid, username: uid }, t: 'd', roles })
  }
  content.forEach(([collection, rid], i) => {
    if (!exists.has(rid)) return
    const doc = { _id: `x-${collection}-${i}`, rid, messageId: 'm', userId: 'alice' }
    ;(data[collection as 'readReceipts'] as unknown[]).push(doc)
  })
  return data
})

const step = fc.record({
  who: fc.constantFrom(...CALLERS),
  wrongToken: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  url: fc.constantFrom(IM_DELETE, DM_DELETE),
  // Both fields take any form: a room id, `#` and a room id, a user id or username with an `@`
  // anywhere (or two), and near misses.
  target: fc.tuple(
    fc.constantFrom('roomId', 'username'),
    fc.constantFrom(...ALL_ROOMS, ...USER_IDS, ...USERNAMES, 'dave', 'nope', 'ghost', '', '@', '#'),
    fc.constantFrom('plain', 'at', 'hash', 'inner-at', 'two-at')
  ).map(([field, name, form]): object => {
    const value = { plain: name, at: `@${name}`, hash: `#${name}`, 'inner-at': `${name.slice(0, 1)}@${name.slice(1)}`, 'two-at': `@@${name}` }[form]
    return { [field]: value }
  }).chain((target) => fc.oneof(
    { arbitrary: fc.constant(target), weight: 6 },
    { arbitrary: fc.constantFrom<object>({}, { roomId: 'alicebob', username: 'bob' }, { roomId: ['alicebob'] }), weight: 1 }
  ))
})

type Target = { roomId?: unknown, username?: unknown }

const sameMembers = (uids: readonly string[], members: Set<string>): boolean =>
  new Set(uids).size === members.size && uids.every((uid) => members.has(uid))

/** The spec's answer to one request against the world as it is, and the rooms it erases. */
function specAnswer (world: Required<Dataset>, permissions: Table, who: Who, wrongToken: boolean, target: Target): { body: string, erased: string[] } {
  const refuse = (body: string): { body: string, erased: string[] } => ({ body, erased: [] })
  const caller = world.users.find((user) => user._id === who)
  if (wrongToken || typeof caller?.username !== 'string' || caller.active === false) return refuse(BODIES.unauthorized)
  // Validated as ajv does it, coercion included: what is left is the one string the body names.
  const body = structuredClone(target)
  const invalid = oracleAnswer(body)
  if (invalid !== null) return refuse(invalid)
  const nameOrId = String(body.roomId ?? body.username)

  const holds = (roles: readonly string[], permission: keyof Table): boolean => roles.some((role) => permissions[permission].includes(role))
  const roles = caller.roles ?? []
  const byId = (id: string): Room | undefined => world.rooms.find((candidate) => candidate._id === id)
  // §4: `#` names a room by id; else the first `@` goes and a user by _id, then by username, names the DM.
  let room: Room | undefined
  let subscription: Pick<Subscription, 'roles'> | undefined
  if (nameOrId.startsWith('#')) {
    room = byId(nameOrId.slice(1))
    if (room?.t !== 'd') return refuse(BODIES.invalidChannel)
  } else {
    const key = nameOrId.replace('@', '')
    const other = key === '' ? undefined : world.users.find((user) => user._id === key) ?? world.users.find((user) => user.username === key)
    if (other === undefined) {
      room = key === '' ? undefined : byId(key)
      if (room?.t !== 'd') return refuse(BODIES.invalidChannel)
    } else {
      const members = new Set([who, other._id])
      // Two DMs with one member set: the first stored is the one found.
      room = world.rooms.find((candidate) => candidate.t === 'd' && Array.isArray(candidate.uids) && sameMembers(candidate.uids, members))
      if (room === undefined) {
        // No such DM yet: createDirectMessage's refusals, then as a subscribed member of the DM it would create.
        if (typeof other.username !== 'string') return refuse(BODIES.usernameMissing)
        if (!holds(roles, 'create-d')) return refuse(BODIES.createNotAllowed)
        subscription = { roles: [] }
      }
    }
  }
  if (room !== undefined) subscription = world.subscriptions.find((sub) => sub.rid === room?._id && sub.u._id === who)

  // §5: three global checks; the subscription's roles do not count for them.
  const joined = subscription !== undefined && (holds(roles, 'view-joined-room') || holds(roles, 'view-d-room'))
  if (!joined && !holds(roles, 'view-room-administration')) return refuse(BODIES.notAllowed)
  if (room?.federated === true) return refuse(BODIES.federated)
  if (!holds([...roles, ...(subscription?.roles ?? [])], 'delete-d')) return refuse(BODIES.eraseNotAllowed)
  if (room === undefined) return refuse(BODIES.success)

  const erased = [room._id]
  for (let i = 0; i < erased.length; i++) {
    for (const child of world.rooms) {
      if (child.prid === erased[i] && !erased.includes(child._id)) erased.push(child._id)
    }
  }
  return { body: BODIES.success, erased }
}

function withoutRooms (world: Required<Dataset>, erased: string[]): Required<Dataset> {
  const keep = <T extends { rid: string }>(docs: T[]): T[] => docs.filter((doc) => !erased.includes(doc.rid))
  return {
    users: world.users,
    rooms: world.rooms.filter((room) => !erased.includes(room._id)),
    subscriptions: keep(world.subscriptions),
    messages: keep(world.messages),
    uploads: keep(world.uploads),
    readReceipts: keep(world.readReceipts)
  }
}

function sorted (world: Required<Dataset>): Dump {
  const byId = <T extends { _id: string }>(docs: T[]): T[] => [...docs].sort((a, b) => a._id < b._id ? -1 : a._id > b._id ? 1 : 0)
  return {
    users: byId(world.users),
    rooms: byId(world.rooms),
    subscriptions: byId(world.subscriptions),
    messages: byId(world.messages),
    uploads: byId(world.uploads),
    readReceipts: byId(world.readReceipts)
  }
}

t.test('random callers erase only the DMs they may, each with exactly its content and discussions', async (t) => {
  // One app for every sequence (building one per sequence would dominate the run): it reaches
  // each sequence's world and role table through these two.
  let current = { store: new MemoryStore(), hasPermission: createHasPermission() }
  const store = Object.fromEntries([...STORE_METHODS, 'findUserByLoginToken' as const].map((method) => [method, async (...args: any[]) => await (current.store[method] as any)(...args)])) as unknown as TestStore
  const { app } = await build({ store, hasPermission: (...args) => current.hasPermission(...args) })
  const tally = { requests: 0, erasures: 0, roomsErased: 0, refused: 0 }
  const answers = new Set<string>()
  await fc.assert(fc.asyncProperty(world, table, fc.array(step, { minLength: 1, maxLength: 12 }), async (start, permissions, steps) => {
    current = { store: new MemoryStore(start), hasPermission: createHasPermission(permissions) }
    let expected = start
    for (const { who, wrongToken, url, target } of steps) {
      const headers = { ...authHeaders(who), ...(wrongToken ? { 'x-auth-token': 'wrong' } : {}) }
      const res = await app.inject({ method: 'POST', url, headers, payload: target })
      const answer = specAnswer(expected, permissions, who, wrongToken, target as Target)
      assert.equal(res.body, answer.body, `${who} ${JSON.stringify(target)}`)
      answers.add(answer.body)
      expected = withoutRooms(expected, answer.erased)
      assert.deepEqual(await current.store.dump(), sorted(expected), `${who} ${JSON.stringify(target)}: the store is exactly what the spec leaves`)
      assertNoPollution()
      tally.requests++
      if (answer.erased.length > 0) tally.erasures++
      else tally.refused++
      tally.roomsErased += answer.erased.length
    }
  }), runs(200))
  t.comment(`sequences: ${JSON.stringify(tally)}`)
  t.ok(tally.erasures > 50 && tally.refused > 200, 'the generator reaches erasures and refusals')
  for (const [name, body] of Object.entries(BODIES)) {
    if (typeof body === 'string' && !['appPrevented', 'invalidRoom', 'internal'].includes(name)) t.ok(answers.has(body), `the generator reaches ${name}`)
  }
})
