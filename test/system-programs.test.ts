import { fileURLToPath } from 'node:url'
import t from 'tap'
import { childEnv, run } from './helpers/run.js'

// The tests that need a program of the system, run where it is missing (pointed at a path that
// does not exist): skipped with a reason that says how to get it, the file passing, so that
// `npm test` passes on a machine without them; but a failure in CI, which must run them.

const root = fileURLToPath(new URL('..', import.meta.url))
const MISSING = '/nonexistent/im-delete-test-program'

t.setTimeout(120_000)

const files = [
  { file: 'test/docs-page.test.ts', variable: 'CHROMIUM_PATH', skipped: /^ok \d+ - Swagger UI at \/documentation in headless Chromium # SKIP not run here: needs Chromium at \/nonexistent\/im-delete-test-program \(apt-get install chromium, or set CHROMIUM_PATH\); CI runs it$/m },
  { file: 'test/postgres-pgbouncer.test.ts', variable: 'PGBOUNCER_PATH', skipped: /^ok \d+ - PostgresStore through PgBouncer in transaction mode # SKIP not run here: needs PgBouncer \(apt-get install pgbouncer, or set PGBOUNCER_PATH\); CI runs it$/m }
]

for (const { file, variable, skipped } of files) {
  const env = (ci: boolean): NodeJS.ProcessEnv => {
    const env = childEnv({ [variable]: MISSING })
    if (ci) env.CI = 'true'
    else delete env.CI
    return env
  }

  t.test(`${file} without its program, outside CI: skipped, saying how to get it`, async (t) => {
    const ran = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env: env(false) })
    t.equal(ran.code, 0, 'the file passes', { stdout: ran.stdout, stderr: ran.stderr })
    t.match(ran.stdout, skipped, 'one skipped test, with the reason')
    t.notMatch(ran.stdout, /^\s*not ok/m, 'nothing failed')
  })

  t.test(`${file} without its program, in CI: a failure`, async (t) => {
    const ran = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, env: env(true) })
    t.not(ran.code, 0, 'the file fails')
    t.match(ran.stdout, /^\s*not ok \d+ - CI needs .+, which is not installed: apt-get install /m, 'naming what to install')
  })
}
