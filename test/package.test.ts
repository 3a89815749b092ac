import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
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
  for (const entry of [...targets, pkg.main, pkg.types, 'dist/cjs/package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) {
    t.ok(files.includes(entry.replace(/^\.\//, '')), `has ${entry}`)
  }
  const strays = files.filter((file) => !/^(dist\/(esm|cjs)\/.+\.(js|d\.ts)|dist\/cjs\/package\.json|package\.json|README\.md|LICENSE|CHANGELOG\.md)$/.test(file))
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
  const installed = await run('npm', ['install', '--no-package-lock', join(work, tarball), '@types/node@20'], { cwd: project, env })
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
})

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
  findUserByUsername (username: string) { return memory.findUserByUsername(username) }
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
