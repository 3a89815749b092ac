import type { FastifyBaseLogger } from 'fastify'

/**
 * Logs a failure at error level. What a store or hook throws is not ours: pino's serializer
 * itself throws on a frozen error or on one whose properties throw when read, and a log call
 * must never turn a failure into a crash (after the response nobody is left to catch it).
 */
export function logFailure (log: FastifyBaseLogger, err: unknown, fields: Record<string, unknown>, msg: string): void {
  try {
    log.error({ ...fields, err }, msg)
  } catch {
    log.error({ ...fields, err: 'the thrown value could not be serialized' }, msg)
  }
}
