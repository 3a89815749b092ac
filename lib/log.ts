/** What the use case and its background work log through: Fastify's logger (pino) is one. */
export interface Logger {
  info: (fields: object, msg: string) => void
  error: (fields: object, msg: string) => void
}

/**
 * A thrown value as a log line shows it. Only these fields: a driver attaches what it likes to
 * its errors (PGlite the statement and its parameters, PostgreSQL a `detail` quoting key
 * values), and a parameter may be the caller's hashed login token.
 */
export interface LoggedError {
  type: string
  message?: string
  code?: string | number
  stack?: string
  cause?: LoggedError
}

/** A property as read, or undefined when reading it throws (a getter of a hostile error). */
function read (value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

const text = (value: unknown): string | undefined => typeof value === 'string' ? value : undefined

/** `thrown` reduced to its type, message, code, stack and (three deep) causes; never throws. */
export function loggedError (thrown: unknown, depth = 0): LoggedError {
  const code = read(thrown, 'code')
  const cause = read(thrown, 'cause')
  // A null prototype: pino's error serializer then keeps `type` as given (it names an object's constructor).
  return Object.assign(Object.create(null), {
    type: text(read(read(thrown, 'constructor'), 'name')) ?? (thrown === null ? 'null' : typeof thrown),
    message: text(read(thrown, 'message')),
    code: typeof code === 'string' || typeof code === 'number' ? code : undefined,
    stack: text(read(thrown, 'stack')),
    cause: cause === undefined || depth === 3 ? undefined : loggedError(cause, depth + 1)
  })
}

/** Logs a failure at error level, the thrown value reduced by `loggedError`. */
export function logFailure (log: Logger, err: unknown, fields: Record<string, unknown>, msg: string): void {
  log.error({ ...fields, err: loggedError(err) }, msg)
}
