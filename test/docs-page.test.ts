import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import t from 'tap'
import type { DemoUser } from '../examples/seed.js'
import { systemProgram } from './helpers/programs.js'
import { childEnv } from './helpers/run.js'

// End to end, as a person would: `npm start`'s demo server, its Swagger UI page in a real
// browser, Authorize already filled in with a demo admin's credentials, Execute on the first
// try, and the DM is gone. Screenshots of each step stay behind as artifacts.

const root = fileURLToPath(new URL('..', import.meta.url))
/** Where the screenshots go (gitignored), to look at after a run. */
const SCREENSHOTS = join(root, '.screenshots')

t.setTimeout(180_000)

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const chromiumPath = systemProgram(t, {
  tests: 'Swagger UI at /documentation in headless Chromium',
  name: `Chromium at ${path}`,
  path: existsSync(path) ? path : null,
  install: 'apt-get install chromium, or set CHROMIUM_PATH'
})
if (chromiumPath !== null) await docsPage(chromiumPath)

async function docsPage (executablePath: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'im-delete-demo-'))
  const tokensFile = join(work, 'tokens.json')

  // PORT=0: the demo listens on a free port and reports which in the tokens file.
  const demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
    cwd: root,
    // A data directory of its own: a fresh embedded database, seeded on this first start.
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', DEMO_TOKENS_FILE: tokensFile, DEMO_DATA_DIR: join(work, 'data') }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => { demo.once('exit', () => { resolve() }) })
  t.teardown(async () => {
    demo.kill()
    // On SIGTERM the demo closes its embedded database, writing to it: remove it once that is done.
    await exited
    await rm(work, { recursive: true, force: true })
  })
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
  const [admin, alice, bob] = users
  const dm = (other: DemoUser): string => [admin._id, other._id].sort().join('')

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  t.teardown(() => browser.close())

  /** What the server says about `roomId` now: a DM that is gone answers invalid-channel. */
  async function stillThere (roomId: string): Promise<boolean> {
    const res = await fetch(`${address}/api/v1/im.delete`, {
      method: 'POST',
      headers: { 'x-user-id': alice._id, 'x-auth-token': alice.token, 'content-type': 'application/json' },
      body: JSON.stringify({ roomId })
    })
    // alice may not erase; she learns only whether the DM is there.
    return (await res.text()) !== '{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}'
  }

  t.test('Swagger UI at /documentation: Authorize is filled in, Execute erases a DM on the first try', async (t) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const pageErrors: string[] = []
    page.on('pageerror', (err) => pageErrors.push(err.message))
    await mkdir(SCREENSHOTS, { recursive: true })

    await page.goto(`${address}/documentation`)
    t.match(await page.locator('.info .description').innerText(), new RegExp(`pre-filled with the demo user ${admin.username}`), 'the page says whose credentials these are')
    // The page authorizes itself once the document is loaded: the button then shows a closed lock.
    await page.locator('.auth-wrapper button.authorize.locked').waitFor()
    await page.getByRole('button', { name: 'Authorize' }).first().click()
    const dialog = page.locator('.dialog-ux .modal-ux')
    for (const name of ['X-User-Id', 'X-Auth-Token']) {
      const scheme = dialog.locator('.auth-container').filter({ hasText: `${name} (apiKey)` })
      t.match(await scheme.innerText(), /Authorized/, `${name}: an apiKey in a header, already authorized`)
    }
    await dialog.screenshot({ path: join(SCREENSHOTS, 'docs-authorize.png') })
    await dialog.getByRole('button', { name: 'Close' }).first().click()

    // im.delete with the JSON body as the page offers it: the example names a DM that exists.
    const imDelete = page.locator('.opblock').filter({ hasText: '/api/v1/im.delete' })
    await imDelete.locator('.opblock-summary').click()
    t.match(await imDelete.locator('.opblock-description-wrapper').first().innerText(), /delete-d/, 'the description is shown')
    await imDelete.getByRole('button', { name: 'Try it out' }).click()
    t.same(JSON.parse(await imDelete.locator('textarea.body-param__text').inputValue()), { roomId: dm(alice) }, 'the example body names a DM of the demo')
    await imDelete.getByRole('button', { name: 'Execute' }).click()
    const status = imDelete.locator('.live-responses-table .response .response-col_status')
    await status.waitFor()
    t.equal((await status.innerText()).trim(), '200', 'status 200 on the first Execute')
    t.same(JSON.parse(await imDelete.locator('.live-responses-table .response-col_description pre').first().innerText()), { success: true }, 'the body Swagger UI shows')
    t.match(await imDelete.locator('.curl-command').innerText(), new RegExp(`X-User-Id: ${admin._id}`), 'the request carried the authorized credentials')
    await imDelete.screenshot({ path: join(SCREENSHOTS, 'docs-execute.png') })
    t.equal(await stillThere(dm(alice)), false, 'the page really erased the DM')

    // dm.delete with a form body, drawn as fields.
    const dmDelete = page.locator('.opblock').filter({ hasText: '/api/v1/dm.delete' })
    await dmDelete.locator('.opblock-summary').click()
    await dmDelete.getByRole('button', { name: 'Try it out' }).click()
    await dmDelete.locator('.opblock-section-request-body select').selectOption('application/x-www-form-urlencoded')
    await dmDelete.locator('tr[data-property-name="username"] input[type="text"]').fill(bob.username)
    // Swagger UI sends an empty field unless told not to; roomId='' with a username is invalid-params.
    await dmDelete.locator('tr[data-property-name="roomId"] input[type="checkbox"]').uncheck()
    await dmDelete.getByRole('button', { name: 'Execute' }).click()
    const formStatus = dmDelete.locator('.live-responses-table .response .response-col_status')
    await formStatus.waitFor()
    t.equal((await formStatus.innerText()).trim(), '200', 'the form body: status 200')
    await dmDelete.screenshot({ path: join(SCREENSHOTS, 'docs-execute-form.png') })
    t.equal(await stillThere(dm(bob)), false, 'the form erased the DM with bob')

    t.same(pageErrors, [], 'no script error on the page')
  })
}
