import { AssertionError } from 'node:assert'
import type { KitTest } from './types.js'

/** What a case checks with: every check names what it looked at, and says what differed. */
export interface Check {
  /** Each check says whether it passed, so a case can stop at a failure that makes the rest moot. */
  ok (value: boolean, message: string): boolean
  /** Deep equality where a key holding undefined counts as absent and Dates compare by instant. */
  same (found: unknown, wanted: unknown, message: string): boolean
}

// A key whose value is undefined does not survive JSON (nor most databases): it is no difference.
function canonical (value: unknown): unknown {
  if (value instanceof Date) return { $date: value.toISOString() }
  if (Array.isArray(value)) return value.map(canonical)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.keys(value).sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => [key, canonical((value as Record<string, unknown>)[key])]))
}

export const show = (value: unknown): string => String(JSON.stringify(canonical(value)))

/** A case: what it does with a check. */
export type Body = (check: Check) => Promise<void>

/**
 * Runs a case as a subtest of `t`. Every check is made, then the case fails once with all that
 * failed (node:test has no assertion that lets a case go on; tap shows them as found and wanted).
 * A throw in a case (a store's rejection included, whatever its class) is one failure naming it.
 */
export async function runCase (t: { test: KitTest }, title: string, body: Body): Promise<void> {
  await t.test(title, {}, async () => {
    const failures: string[] = []
    const check: Check = {
      ok (value, message) {
        if (!value) failures.push(message)
        return value
      },
      same (found, wanted, message) {
        const pass = show(found) === show(wanted)
        return check.ok(pass, pass ? message : `${message}: found ${show(found)}, wanted ${show(wanted)}`)
      }
    }
    try {
      await body(check)
    } catch (err) {
      check.ok(false, `${title}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : show(err)}`)
    }
    if (failures.length > 0) {
      throw new AssertionError({ message: `${title}: ${failures.length} check(s) failed\n- ${failures.join('\n- ')}`, actual: failures, expected: [], operator: 'deepStrictEqual' })
    }
  })
}
