import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import t from 'tap'
import type { DemoUser } from '../examples/seed.js'
import { childEnv } from './helpers/run.js'

// End to end, as a person would: `npm start`'s demo server, its Swagger UI page in a real
// browser, "Try it out" with an admin's credentials, and the DM is gone.

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  throw new Error(`Chromium is needed for this test and is not at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`)
}

const root = fileURLToPath(new URL('..', import.meta.url))
/** Where the screenshot goes (gitignored), to look at after a run. */
const SCREENSHOT = join(root, '.screenshots', 'docs-try-it-out.png')

t.setTimeout(180_000)

const work = await mkdtemp(join(tmpdir(), 'im-delete-demo-'))
t.teardown(() => rm(work, { recursive: true, force: true }))
const tokensFile = join(work, 'tokens.json')

// PORT=0: the demo listens on a free port and reports which in the tokens file.
const demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
  cwd: root,
  // A data directory of its own: a fresh embedded database, seeded on this first start.
  env: childEnv({ PORT: '0', HOST: '127.0.0.1', DEMO_TOKENS_FILE: tokensFile, DEMO_DATA_DIR: join(work, 'data') }),
  stdio: ['ignore', 'pipe', 'pipe']
})
t.teardown(() => { demo.kill() })
let output = ''
await new Promise<void>((resolve, reject) => {
  demo.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  // The banner is printed once the server listens and the tokens file is written.
  demo.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    if (output.includes('fastify-im-delete demo on')) resolve()
  })
  demo.on('exit', (code) => reject(new Error(`the demo exited (${code}) before it listened:\n${output}`)))
})
const { address, users } = JSON.parse(await readFile(tokensFile, 'utf8')) as { address: string, users: DemoUser[] }
const [admin, alice] = users
const roomId = [admin._id, alice._id].sort().join('')

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync']
})
t.teardown(() => browser.close())

t.test('Swagger UI at /documentation deletes a DM with "Try it out"', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))

  await page.goto(`${address}/documentation`)
  const operation = page.locator('.opblock').filter({ hasText: '/api/v1/im.delete' })
  await operation.locator('.opblock-summary').click()
  t.match(await operation.locator('.opblock-description-wrapper').first().innerText(), /delete-d/, 'the description is shown')

  await operation.getByRole('button', { name: 'Try it out' }).click()
  await operation.locator('tr[data-param-name="X-User-Id"] input').fill(admin._id)
  await operation.locator('tr[data-param-name="X-Auth-Token"] input').fill(admin.token)
  await operation.locator('textarea.body-param__text').fill(JSON.stringify({ roomId }))
  await operation.getByRole('button', { name: 'Execute' }).click()

  const live = operation.locator('.live-responses-table')
  const status = live.locator('.response .response-col_status')
  await status.waitFor()
  t.equal((await status.innerText()).trim(), '200', 'status 200')
  const body = await live.locator('.response-col_description pre').first().innerText()
  t.same(JSON.parse(body), { success: true }, 'the body Swagger UI shows')

  await mkdir(join(root, '.screenshots'), { recursive: true })
  await operation.screenshot({ path: SCREENSHOT })
  t.same(pageErrors, [], 'no script error on the page')

  // The page really deleted it: the same request now finds no DM.
  const again = await fetch(`${address}/api/v1/im.delete`, {
    method: 'POST',
    headers: { 'x-user-id': admin._id, 'x-auth-token': admin.token, 'content-type': 'application/json' },
    body: JSON.stringify({ roomId })
  })
  t.equal(again.status, 400)
  t.equal(await again.text(), '{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}')
})
