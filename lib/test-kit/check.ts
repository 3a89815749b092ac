import { AssertionError } from 'node:assert'
import type { KitRunner, NodeTestLike, TapLike } from './types.js'

/** What a case checks with: every check names what it looked at, and says what differed. */
export interface Check {
  /** Each check says whether it passed, so a case can stop at a failure that makes the rest moot. */
  ok (value: boolean, message: string): boolean
  /** Deep equality where a key holding undefined counts as absent and Dates compare by instant. */
  same (found: unknown, wanted: unknown, message: string): boolean
  comment (message: string): void
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

/** A case: a title and what it does with a check. */
export type Body = (check: Check) => Promise<void>

/** One runner's way of running a case and of saying that one does not apply. */
export interface Runner {
  /** Runs `fn` inside one test named `name`, with a runner for its subtests. */
  group (name: string, fn: (runner: Runner) => Promise<void>): Promise<void>
  run (title: string, body: Body): Promise<void>
  notApplicable (title: string, reason: string): Promise<void>
}

function checkOver (report: (pass: boolean, message: string, extra?: { found: unknown, wanted: unknown }) => void, comment: (message: string) => void): Check {
  return {
    ok (value, message) {
      report(value, message)
      return value
    },
    same (found, wanted, message) {
      const pass = show(found) === show(wanted)
      report(pass, pass ? message : `${message}: found ${show(found)}, wanted ${show(wanted)}`, pass ? undefined : { found, wanted })
      return pass
    },
    comment
  }
}

// A throw in a case (a store's rejection included, whatever its class) is one failure naming the case.
async function guarded (title: string, body: Body, check: Check): Promise<void> {
  try {
    await body(check)
  } catch (err) {
    check.ok(false, `${title}: threw ${err instanceof Error ? `${err.name}: ${err.message}` : show(err)}`)
  }
}

function tapRunner (t: TapLike): Runner {
  return {
    async group (name, fn) {
      await t.test(name, async (sub) => { await fn(tapRunner(sub)) })
    },
    async run (title, body) {
      await t.test(title, async (sub) => {
        await guarded(title, body, checkOver((pass, message, extra) => { if (extra === undefined) sub.ok(pass, message); else sub.ok(pass, message, extra) }, (message) => { t.comment?.(message) }))
      })
    },
    async notApplicable (title, reason) {
      t.comment?.(`not applicable: ${title} (${reason})`)
    }
  }
}

function nodeTestRunner (test: NodeTestLike): Runner {
  const start = typeof test === 'function' ? test : test.test.bind(test)
  return {
    async group (name, fn) {
      await start(name, {}, async (context) => { await fn(nodeTestRunner(context)) })
    },
    async run (title, body) {
      await start(title, {}, async (context) => {
        // node:test has no assertion that lets a case go on: gather them, fail once with all.
        const failures: string[] = []
        await guarded(title, body, checkOver((pass, message) => { if (!pass) failures.push(message) }, (message) => { context.diagnostic(message) }))
        if (failures.length > 0) {
          throw new AssertionError({ message: `${title}: ${failures.length} check(s) failed\n- ${failures.join('\n- ')}` })
        }
      })
    },
    async notApplicable (title, reason) {
      await start(title, { skip: `not applicable: ${reason}` }, async () => {})
    }
  }
}

/** tap's `t` (or anything of its shape), `node:test`'s `test`, or a node:test context. */
export function runnerFor (runner: KitRunner): Runner {
  const shaped = runner as { ok?: unknown, diagnostic?: unknown }
  if (typeof runner === 'function' || (typeof shaped.diagnostic === 'function' && typeof shaped.ok !== 'function')) {
    return nodeTestRunner(runner as NodeTestLike)
  }
  return tapRunner(runner as TapLike)
}
