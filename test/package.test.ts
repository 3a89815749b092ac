import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { run, childEnv, type Ran } from './helpers/run.js'

// What a user gets from `npm install fastify-im-delete`: the tarball `npm pack` makes (it
// builds first), installed into an empty project, used from ESM, CommonJS and TypeScript.
// One pack and one install, shared by every check below.

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { main: string, types: string, exports: unknown }
const env = childEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' })

t.setTimeout(300_000)

/** Every path an exports map names, whatever the nesting of conditions. */
const exportTargets = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Object.values(value as object).flatMap(exportTargets)

function ranOk (t: Test, ran: Ran, what: string): void {
  t.equal(ran.code, 0, what, { stdout: ran.stdout.slice(-4000), stderr: ran.stderr.slice(-4000) })
}

const work = await mkdtemp(join(tmpdir(), 'im-delete-pack-'))
t.teardown(() => rm(work, { recursive: true, force: true }))
const project = join(work, 'consumer')

const packed = await run('npm', ['pack', '--pack-destination', work], { cwd: root, env })
const tarball = (await readdir(work)).find((name) => name.endsWith('.tgz'))
if (packed.code !== 0 || tarball === undefined) throw new Error(`npm pack failed:\n${packed.stdout}\n${packed.stderr}`)

t.test('the tarball holds the compiled package and nothing else', async (t) => {
  const listed = await run('tar', ['-tzf', join(work, tarball)], { cwd: work, env })
  const files = listed.stdout.trim().split('\n').map((line) => line.replace(/^package\//, '')).sort()
  // Every file the exports map names (for import and require, code and types) is shipped.
  const targets = exportTargets(pkg.exports)
  t.ok(targets.length >= 5, 'the exports map names the root entry for import and require')
  // What the README links to ships too, so that it reads the same in node_modules.
  for (const entry of [...targets, pkg.main, pkg.types, 'dist/cjs/package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'docs/contract.md', 'docs/postgres.md', 'docs/development.md']) {
    t.ok(files.includes(entry.replace(/^\.\//, '')), `has ${entry}`)
  }
  const strays = files.filter((file) => !/^(dist\/(esm|cjs)\/.+\.(js|d\.ts)|dist\/cjs\/package\.json|package\.json|README\.md|LICENSE|CHANGELOG\.md|SECURITY\.md|docs\/[a-z-]+\.md)$/.test(file))
  t.same(strays, [], 'no sources, tests, examples, maps or configuration')
  t.notOk(files.some((file) => file.startsWith('dist/') && file.includes('/test/')), 'no compiled tests')
})

t.test('arethetypeswrong finds no problem in any resolution mode', async (t) => {
  const ran = await run(bin('attw'), [join(work, tarball), '--format', 'json'], { cwd: work, env })
  const report = JSON.parse(ran.stdout) as { analysis: { problems: unknown[], entrypoints: Record<string, unknown> } }
  t.same(report.analysis.problems, [], 'no problems')
  t.ok(Object.keys(report.analysis.entrypoints).includes('.'), 'the root entry point was analysed')
  ranOk(t, ran, 'attw exits 0')
})

t.test('installed into an empty project', async (t) => {
  await mkdir(project)
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  // fastify comes in as the peer dependency; @types/node is what any TypeScript user has.
  // The examples of the README and docs/ need the optional parts they show: @fastify/swagger and
  // its page, ioredis, pg, PGlite.
  const installed = await run('npm', ['install', '--no-package-lock', join(work, tarball), '@types/node@20', '@fastify/swagger@9', '@fastify/swagger-ui@5', 'ioredis@5', 'pg@8', '@types/pg@8', '@electric-sql/pglite@0.5'], { cwd: project, env })
  ranOk(t, installed, 'npm install <tarball> succeeds')
  await writeFile(join(project, 'setup.json'), JSON.stringify({ token: 'consumer-token' }))

  const expected = '200 {"success":true}'

  t.test('an ES module imports it', async (t) => {
    await writeFile(join(project, 'esm.mjs'), ESM_CONSUMER)
    const ran = await run('node', ['esm.mjs'], { cwd: project, env })
    ranOk(t, ran, 'runs')
    t.equal(ran.stdout.trim(), expected)
  })

  t.test('a CommonJS module requires it', async (t) => {
    await writeFile(join(project, 'cjs.cjs'), CJS_CONSUMER)
    const ran = await run('node', ['cjs.cjs'], { cwd: project, env })
    ranOk(t, ran, 'runs')
    t.equal(ran.stdout.trim(), expected)
  })

  t.test('a TypeScript module type-checks under strict settings, then runs', async (t) => {
    await writeFile(join(project, 'ts.mts'), TS_CONSUMER)
    await writeFile(join(project, 'tscjs.cts'), TS_CJS_CONSUMER)
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        noEmit: true
      },
      files: ['ts.mts', 'tscjs.cts']
    }))
    ranOk(t, await run(bin('tsc'), ['-p', '.'], { cwd: project, env }), 'tsc --noEmit reports no error')
    const tsx = import.meta.resolve('tsx')
    const ran = await run('node', ['--import', tsx, 'ts.mts'], { cwd: project, env })
    ranOk(t, ran, 'runs')
    t.equal(ran.stdout.trim(), expected)
  })

  t.test('the README and docs/ as printed', async (t) => {
    const pages = ['README.md', ...(await readdir(join(root, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
    const blocksOf = async (page: string): Promise<Array<{ page: string, lang: string, code: string }>> =>
      [...(await readFile(join(root, page), 'utf8')).matchAll(/^```([\w-]*)\n([^]*?)^```$/gm)].map(([, lang, code]) => ({ page, lang, code }))
    const byPage = await Promise.all(pages.map(blocksOf))
    const blocks = byPage.flat()
    t.same([...new Set(blocks.map((b) => `${b.page}: ${b.lang}`))].filter((fence) => !/: (ts|js|sh|sql|text|ts-fragment)$/.test(fence)), [], 'fences: ts (complete modules), js, sh, sql, and text or ts-fragment for the rest')
    const ts = blocks.filter((b) => b.lang === 'ts')
    t.ok(ts.filter((b) => b.page === 'README.md').length >= 4, 'ts blocks in the README')
    t.ok(ts.length >= 10, `${ts.length} ts blocks in all`)

    // Every ts block a module of its own in an ES module project; the full example is imported
    // by the block that runs it as './custom-store.js'.
    const dir = join(project, 'readme')
    await mkdir(dir)
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
    const files = ts.map((b, i) => b.code.includes('export class MapStore') ? 'custom-store.ts' : `block-${i + 1}.ts`)
    for (const [i, b] of ts.entries()) await writeFile(join(dir, files[i]), b.code)
    // skipLibCheck: PGlite's declarations lean on Emscripten's global types, which a consumer lacks
    // (ours are checked without it above); the blocks themselves are checked in full.
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], noEmit: true, skipLibCheck: true },
      files
    }))
    const checked = await run(bin('tsc'), ['-p', '.'], { cwd: dir, env })
    // Which page each failing block comes from.
    const named = checked.stdout.replace(/block-(\d+)\.ts/g, (file, n: string) => `${file} (${ts[Number(n) - 1].page})`)
    t.equal(checked.code, 0, 'every ts block type-checks under strict against the installed package', { stdout: named.slice(-4000), stderr: checked.stderr.slice(-4000) })

    /** The block after `block` on its page: the commands that go with it. */
    const next = (block: typeof blocks[number]): typeof blocks[number] => {
      const page = byPage[pages.indexOf(block.page)]
      return page[page.indexOf(block) + 1]
    }
    // The README's quick start, then the curl commands after it, each answering what its comment says.
    const quick = ts[0]
    const curl = next(quick)
    const cjs = blocks.find((b) => b.page === 'README.md' && b.lang === 'js' && b.code.includes("require('fastify-im-delete')"))
    t.ok(quick.page === 'README.md' && curl.lang === 'sh' && cjs !== undefined, 'the quick start comes with its curl commands and a CommonJS form')
    await writeFile(join(dir, 'server.mjs'), quick.code)
    await writeFile(join(dir, 'server.mts'), quick.code)
    await writeFile(join(dir, 'server.cjs'), cjs?.code ?? '')
    const tsx = import.meta.resolve('tsx')
    for (const [what, args] of [['ES module', ['server.mjs']], ['CommonJS', ['server.cjs']], ['TypeScript', ['--import', tsx, 'server.mts']]] as const) {
      t.test(`the quick start as ${what}`, async (t) => {
        await servesAsPrinted(t, dir, [...args], curl.code)
      })
    }
    const runner = ts.find((b) => b.code.includes("from './custom-store.js'"))
    t.ok(runner !== undefined, 'the full example comes with a server that runs it')
    t.test('the full example, run as printed', async (t) => {
      await servesAsPrinted(t, dir, ['--import', tsx, files[ts.indexOf(runner as typeof ts[number])]], next(runner as typeof ts[number]).code)
    })
  })
})

/** Pairs of a command (continued lines joined) and the comment line after it, the answer it prints. */
function commandsOf (sh: string): Array<{ command: string, expected: string }> {
  const lines = sh.replace(/\\\n\s*/g, '').split('\n').filter((line) => line.trim() !== '')
  const pairs: Array<{ command: string, expected: string }> = []
  for (const [i, line] of lines.entries()) {
    if (line.startsWith('curl ')) pairs.push({ command: line, expected: (lines[i + 1] ?? '').replace(/^# /, '') })
  }
  return pairs
}

/** A port nobody listens on now. */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Whether something accepts connections on the port. */
const accepts = async (port: number): Promise<boolean> => await new Promise((resolve) => {
  const socket = connect(port, '127.0.0.1')
  socket.once('connect', () => { socket.destroy(); resolve(true) })
  socket.once('error', () => { resolve(false) })
})

/** Starts a README server on a free port (PORT), runs the commands against it, stops it. */
async function servesAsPrinted (t: Test, cwd: string, args: string[], sh: string): Promise<void> {
  const port = await freePort()
  const child = spawn('node', args, { cwd, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { child.kill() })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  // Until it listens; bounded, so a server that never does fails the test instead of hanging it.
  for (let tries = 0; !(await accepts(port)); tries++) {
    if (child.exitCode !== null || tries === 300) throw new Error(`the server did not listen on ${port} (exit code ${child.exitCode}):\n${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const commands = commandsOf(sh)
  t.ok(commands.length > 0, 'curl commands to run')
  for (const { command, expected } of commands) {
    const ran = await run('sh', ['-c', command.replaceAll('localhost:3000', `127.0.0.1:${port}`)], { cwd, env })
    t.equal(ran.stdout, expected + '\n', command.slice(0, 100))
  }
}

/** Shared by the JavaScript consumers: one admin with a login token, one DM to delete. */
const DATASET = `{
  users: [
    { _id: 'u1', username: 'ada', roles: ['admin'], services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('tok') }] } } },
    { _id: 'u2', username: 'bob', roles: ['user'] }
  ],
  rooms: [{ _id: 'u1u2', t: 'd', uids: ['u1', 'u2'], usernames: ['ada', 'bob'] }],
  subscriptions: [{ _id: 's1', rid: 'u1u2', u: { _id: 'u1', username: 'ada' } }]
}`

const INJECT = `app.inject({
  method: 'POST',
  url: '/api/v1/im.delete',
  headers: { 'x-user-id': 'u1', 'x-auth-token': 'tok' },
  payload: { roomId: 'u1u2' }
})`

const ESM_CONSUMER = `import Fastify from 'fastify'
import imDelete, { MemoryStore, hashLoginToken } from 'fastify-im-delete'

const app = Fastify()
await app.register(imDelete, { store: new MemoryStore(${DATASET}) })
const res = await ${INJECT}
console.log(res.statusCode, res.body)
`

const CJS_CONSUMER = `const Fastify = require('fastify')
const { imDeletePlugin, MemoryStore, hashLoginToken } = require('fastify-im-delete')

async function main () {
  const app = Fastify()
  await app.register(imDeletePlugin, { store: new MemoryStore(${DATASET}) })
  const res = await ${INJECT}
  console.log(res.statusCode, res.body)
}
main()
`

// Written against the public types only: a store of its own, typed hooks, typed errors.
const TS_CONSUMER = `import Fastify from 'fastify'
import imDelete, {
  MemoryStore, hashLoginToken, errors,
  type AfterEraseContext, type BeforeEraseHook, type ImDeleteOptions, type ImDeleteStore, type Room
} from 'fastify-im-delete'

const memory = new MemoryStore({
  users: [{ _id: 'u1', username: 'ada', roles: ['admin'], services: { resume: { loginTokens: [{ hashedToken: hashLoginToken('tok') }] } } },
    { _id: 'u2', username: 'bob', roles: ['user'] }],
  rooms: [{ _id: 'u1u2', t: 'd', uids: ['u1', 'u2'], usernames: ['ada', 'bob'] }],
  subscriptions: [{ _id: 's1', rid: 'u1u2', u: { _id: 'u1', username: 'ada' } }]
})

class LoggingStore implements ImDeleteStore {
  readonly erased: string[] = []
  findUserByLoginToken (userId: string, hashedToken: string) { return memory.findUserByLoginToken(userId, hashedToken) }
  findUser (idOrUsername: string) { return memory.findUser(idOrUsername) }
  findRoomById (roomId: string): Promise<Room | null> { return memory.findRoomById(roomId) }
  findDirectRoom (uids: readonly string[]) { return memory.findDirectRoom(uids) }
  findSubscription (roomId: string, userId: string) { return memory.findSubscription(roomId, userId) }
  async eraseRoom (roomId: string) {
    this.erased.push(roomId)
    return await memory.eraseRoom(roomId)
  }
}

const before: BeforeEraseHook = ({ room, user }) => room.t === 'd' && user.roles.includes('admin')
const seen: string[] = []
const options: ImDeleteOptions = {
  store: new LoggingStore(),
  rateLimit: { max: 5, timeWindow: 1000 },
  onBeforeErase: [before],
  onAfterErase: (ctx: AfterEraseContext) => { seen.push(ctx.room._id + ':' + ctx.removed.subscriptions) }
}
const notAllowed: string = new errors.NotAllowedError().code

const app = Fastify()
await app.register(imDelete, options)
const res = await app.inject({
  method: 'POST',
  url: '/api/v1/im.delete',
  headers: { 'x-user-id': 'u1', 'x-auth-token': 'tok' },
  payload: { roomId: 'u1u2' }
})
await app.close()
if (notAllowed !== 'FST_IM_DELETE_NOT_ALLOWED' || seen[0] !== 'u1u2:1') throw new Error('unexpected: ' + seen.join())
console.log(res.statusCode, res.body)
`

// A CommonJS TypeScript module sees the CommonJS declarations: type-checked only.
const TS_CJS_CONSUMER = `import Fastify from 'fastify'
import { imDeletePlugin, MemoryStore, type ImDeleteOptions } from 'fastify-im-delete'

const options: ImDeleteOptions = { store: new MemoryStore(), prefix: '/chat', rateLimit: false }
export const app = Fastify().register(imDeletePlugin, options)
`
