import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { DemoUser } from '../examples/seed.js'
import { childEnv, run } from './helpers/run.js'

// `npm start` as a person meets it: two demos in one folder, a restart after erases, a port
// that is taken, data it cannot open. The data is never opened twice, and every refusal is
// one line that says what to do.

const root = fileURLToPath(new URL('..', import.meta.url))
t.setTimeout(240_000)

const work = await mkdtemp(join(tmpdir(), 'im-delete-demo-data-'))
t.teardown(() => rm(work, { recursive: true, force: true }))
const data = join(work, 'data')

interface Demo { child: ChildProcess, stdout: string, stderr: string, exited: Promise<number | null> }

/** Starts the demo; resolves once it printed its banner, or once it exited, whichever first. */
async function demo (env: Record<string, string>): Promise<Demo> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
    cwd: root,
    // The embedded default store, whatever the caller's DATABASE_URL points the tests at.
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', DEMO_DATA_DIR: data, DATABASE_URL: undefined, ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const started: Demo = { child, stdout: '', stderr: '', exited: new Promise((resolve) => { child.once('exit', resolve) }) }
  await new Promise<void>((resolve) => {
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { started.stderr += chunk })
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      started.stdout += chunk
      if (started.stdout.includes('\nTry:\n')) resolve()
    })
    started.exited.then(() => { resolve() }, () => {})
  })
  // The banner is one write: wait for its end.
  while (child.exitCode === null && !/\nTry:\n[^]*\n\n/.test(started.stdout)) await new Promise((resolve) => setTimeout(resolve, 20))
  return started
}

/** The curl commands the banner prints, run as printed by a shell. */
async function curls (banner: string): Promise<string[]> {
  const commands = banner.split('\n').filter((line) => line.startsWith('  curl ')).map((line) => line.trim())
  const outputs: string[] = []
  for (const command of commands) outputs.push((await run('sh', ['-c', command], { cwd: work, env: childEnv({}) })).stdout)
  return outputs
}

const INVALID_CHANNEL = '{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}\n'
const SUCCESS = '{"success":true}\n'

t.test('two demos in one folder: the second refuses before it opens anything; a restart finds the data as left', async (t) => {
  const first = await demo({})
  t.match(first.stdout, /admin's DMs left: alice, bob, carol\./, 'a fresh start seeds')

  const second = await demo({})
  t.equal(await second.exited, 1, 'the second demo stops')
  t.equal(second.stderr, `demo: another demo (pid ${first.child.pid}) is using ${data}; stop it first, or give this one its own data and port: DEMO_DATA_DIR=/tmp/demo-2 PORT=3001 npm start\n`, 'in one line, saying why and what to do')
  t.notMatch(second.stdout, /listening/, 'it never got as far as listening')

  const outputs = await curls(first.stdout)
  t.equal(outputs.length, 5, 'five commands to try')
  t.ok(outputs.every((out) => out.endsWith('}\n')), 'every answer ends its line')
  t.same(outputs.slice(0, 2), [SUCCESS, SUCCESS], 'the first two erase a DM each: the first demo works on undamaged data')
  t.match(outputs[2], /error-not-allowed/)
  t.match(outputs[3], /You must be logged in/)
  t.equal(outputs[4], INVALID_CHANNEL)

  first.child.kill('SIGINT')
  t.equal(await first.exited, 0, 'SIGINT closes the demo cleanly')
  t.notOk(existsSync(join(data, 'demo.pid')), 'and it lets go of the data')

  const again = await demo({})
  t.match(again.stdout, /admin's DMs left: carol\./, 'after a restart it says which DMs are left')
  const later = await curls(again.stdout)
  t.equal(later.length, 4, 'and offers no command for the DMs already erased')
  t.equal(later[0], SUCCESS, 'the command it prints still works')
  again.child.kill('SIGTERM')
  t.equal(await again.exited, 0)

  const last = await demo({})
  t.match(last.stdout, /admin has no DM left to delete \(erased in earlier runs\): DEMO_RESET=1 npm start reseeds\./, 'nothing left to erase, and how to start over')
  last.child.kill('SIGTERM')
  t.equal(await last.exited, 0)
})

t.test('data it cannot open: one line with the remedy, and DEMO_RESET=1 is that remedy', async (t) => {
  // What a damaged data directory looks like to PGlite: a control file cut short.
  await truncate(join(data, 'pglite', 'global', 'pg_control'), 0)
  const broken = await demo({})
  t.equal(await broken.exited, 1)
  t.match(broken.stderr, /^demo: cannot open the embedded database in .+ \(.+\); DEMO_RESET=1 npm start deletes the demo's data and starts afresh\n$/, 'one line')
  t.ok(broken.stderr.length < 400, 'no minified source, no stack')
  t.notOk(existsSync(join(data, 'demo.pid')), 'the data is let go of')

  const reset = await demo({ DEMO_RESET: '1' })
  t.match(reset.stdout, /admin's DMs left: alice, bob, carol\./, 'reseeded')
  reset.child.kill('SIGTERM')
  t.equal(await reset.exited, 0)
})

t.test('a port in use: one line naming PORT=, and the data is not touched', async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => { taken.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { taken.close() })
  const { port } = taken.address() as AddressInfo
  const elsewhere = join(work, 'untouched')
  const refused = await demo({ PORT: String(port), DEMO_DATA_DIR: elsewhere })
  t.equal(await refused.exited, 1)
  t.equal(refused.stderr, `demo: 127.0.0.1:${port} is not available (EADDRINUSE); choose another port: PORT=3001 npm start\n`)
  t.notOk(existsSync(join(elsewhere, 'pglite')), 'no database was created')
})

t.test('an authenticated request whose body stalls: 408 and the socket closed within 15 s', async (t) => {
  // Node checks request timeouts every connectionsCheckingInterval (30 s by default), and a
  // headersTimeout above requestTimeout (60 s by default) becomes the limit: the demo sets both,
  // or this waits 60 to 90 s.
  const tokens = join(work, 'stall-tokens.json')
  const server = await demo({ DEMO_DATA_DIR: join(work, 'stall'), DEMO_TOKENS_FILE: tokens })
  const { address, users } = JSON.parse(await readFile(tokens, 'utf8')) as { address: string, users: DemoUser[] }
  const [admin] = users
  const { hostname, port } = new URL(address)

  const started = Date.now()
  const socket = connect(Number(port), hostname)
  // Never longer than this, whatever the demo does: a test that waits 90 s helps nobody.
  const deadline = setTimeout(() => { socket.destroy() }, 20_000)
  let answer = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
  socket.on('error', () => {})
  socket.write(['POST /api/v1/im.delete HTTP/1.1', `Host: ${hostname}`, `X-User-Id: ${admin._id}`, `X-Auth-Token: ${admin.token}`,
    'Content-Type: application/json', 'Content-Length: 64', '', '{"roomId":"'].join('\r\n'))
  await new Promise((resolve) => { socket.once('close', resolve) })
  clearTimeout(deadline)
  const elapsed = Date.now() - started

  // 408, not 401: the credentials were accepted and the body was waited for, until the timeout.
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/, 'answered 408')
  t.ok(elapsed < 15_000, `closed after ${elapsed} ms`)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
})
