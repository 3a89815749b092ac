import fc, { type Parameters } from 'fast-check'

/**
 * Every property runs from one fixed seed, so CI is reproducible; a failure report gives the
 * seed and path, and `IM_DELETE_FC_SEED=<seed> npx tap <file>` replays it. `IM_DELETE_FC_RUNS`
 * multiplies the runs for a longer local hunt.
 */
export const SEED = Number(process.env.IM_DELETE_FC_SEED ?? 20_260_525)
const SCALE = Number(process.env.IM_DELETE_FC_RUNS ?? 1)

export function runs<T> (numRuns: number): Parameters<T> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)) }
}

/** Printed once per test file, so any failure can be replayed from the log. */
export const SEED_NOTE = `fast-check seed ${SEED} (replay with IM_DELETE_FC_SEED=${SEED}; scale runs with IM_DELETE_FC_RUNS)`

/** What drivers put in their errors: SQL, stack frames, credentials in URLs, hashes. */
export const LEAKY_MESSAGES = [
  'SELECT "hashedToken" FROM users WHERE _id = $1',
  'E11000 duplicate key error collection: rocketchat.rocketchat_room index: _id_ dup key: { _id: "alicebob" }',
  'connect ECONNREFUSED 10.0.0.5:5432 (postgres://rc:hunter2@db.internal/rocketchat)',
  'relation "rocketchat_subscription" does not exist\n    at Parser.parseErrorMessage (/srv/node_modules/pg-protocol/dist/parser.js:283:98)'
]

/**
 * How a failing dependency can throw, as data (so fast-check prints and shrinks it): an Error
 * with any message, code, statusCode or validation (what our error mapping reads), a frozen
 * one, one whose properties throw when read, or a value that is no Error at all.
 */
export type Failure =
  | { kind: 'error', message: string, code?: unknown, statusCode?: unknown, validation?: unknown, frozen: boolean }
  | { kind: 'getter', message: string, property: 'code' | 'message' | 'statusCode' | 'stack' | 'constructor' }
  | { kind: 'value', value: unknown }

export const failure: fc.Arbitrary<Failure> = fc.oneof(
  fc.record({
    kind: fc.constant('error' as const),
    message: fc.oneof(fc.constantFrom(...LEAKY_MESSAGES), fc.string({ unit: 'binary', maxLength: 40 })),
    code: fc.option(fc.oneof(
      fc.constantFrom('ECONNRESET', '23505', 11000, 'constructor', '__proto__', 'toString', 'hasOwnProperty',
        'FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_BODY_TOO_LARGE', 'FST_ERR_VALIDATION',
        'FST_IM_DELETE_UNAUTHORIZED', 'FST_IM_DELETE_NOT_ALLOWED', 'FST_IM_DELETE_INVALID_CHANNEL', 'FST_IM_DELETE_TOO_MANY_REQUESTS'),
      fc.integer(), fc.string()), { nil: undefined }),
    statusCode: fc.option(fc.constantFrom(200, 400, 401, 404, 413, 429, 503, -1, 'x'), { nil: undefined }),
    validation: fc.option(fc.constantFrom([{ message: LEAKY_MESSAGES[0] }], 'x', null, [null]), { nil: undefined }),
    frozen: fc.boolean()
  }, { requiredKeys: ['kind', 'message', 'frozen'] }),
  fc.record({
    kind: fc.constant('getter' as const),
    message: fc.constantFrom(...LEAKY_MESSAGES),
    property: fc.constantFrom('code' as const, 'message' as const, 'statusCode' as const, 'stack' as const, 'constructor' as const)
  }),
  fc.record({
    kind: fc.constant('value' as const),
    value: fc.oneof(fc.constantFrom(null, undefined, 0, 42, '', true, ...LEAKY_MESSAGES), fc.record({ message: fc.constantFrom(...LEAKY_MESSAGES), code: fc.string() }))
  })
)

/** A fresh thrown value for the failure: what the faulty dependency throws. */
export function materialize (spec: Failure): unknown {
  if (spec.kind === 'value') return structuredClone(spec.value)
  const err = new Error(spec.message)
  if (spec.kind === 'getter') {
    Object.defineProperty(err, spec.property, { get () { throw new Error(spec.message) } })
    return err
  }
  const { code, statusCode, validation } = spec
  Object.assign(err, code === undefined ? {} : { code }, statusCode === undefined ? {} : { statusCode }, validation === undefined ? {} : { validation })
  return spec.frozen ? Object.freeze(err) : err
}
