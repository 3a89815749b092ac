import { execFileSync } from 'node:child_process'
import type { Test } from 'tap'

// Tests that drive a program of the system (Chromium, PgBouncer) run wherever it is installed
// and always in CI (.ci/run installs them), where its absence is a failure. Elsewhere they are
// skipped with a reason naming the package: tap lists skips and their reasons in the summary it
// ends with, and `npm test` still exits 0 on a machine that has only PostgreSQL and Redis.

/** CI=true, as .ci/run sets it (any non-empty value counts). */
export const inCi = (): boolean => (process.env.CI ?? '') !== ''

/** The first candidate that runs with `args` (its version, say), or null. */
export function firstRunnable (candidates: readonly string[], args: readonly string[]): string | null {
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, args, { stdio: 'ignore' })
      return candidate
    } catch {}
  }
  return null
}

export interface SystemProgram {
  /** What the file tests with it, the title of the skipped test. */
  tests: string
  /** The program, as a person knows it. */
  name: string
  /** Where it was found, or null. */
  path: string | null
  /** How to get it. */
  install: string
}

/** The program's path; or null, having failed `t` in CI and registered a skipped test elsewhere. */
export function systemProgram (t: Test, { tests, name, path, install }: SystemProgram): string | null {
  if (path !== null) return path
  if (inCi()) t.fail(`CI needs ${name}, which is not installed: ${install} (.ci/run does)`)
  else t.test(tests, { skip: `not run here: needs ${name} (${install}); CI runs it` }, () => {})
  return null
}
