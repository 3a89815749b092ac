import { fileURLToPath } from 'node:url'
import t from 'tap'
import { childEnv, run } from './helpers/run.js'

// package.json promises Node 20.12. Fastify loads light-my-request for app.inject, and its
// cookie 2 is an ES module that says node >= 22: Node 20.12 to 20.18 cannot require() it, and
// every install warned EBADENGINE. The override in package.json pins cookie 1.1 (CommonJS, the
// same functions, node >= 18); this runs inject, cookies included, as those Node versions would.

const root = fileURLToPath(new URL('..', import.meta.url))

const SCRIPT = `
const app = require('fastify')()
app.get('/', async (request) => request.headers.cookie)
app.inject({ url: '/', cookies: { session: 'a b' } }).then((res) => { console.log(res.body) })
`

t.test('app.inject works on a Node that cannot require() an ES module', async (t) => {
  const ran = await run(process.execPath, ['--no-experimental-require-module', '-e', SCRIPT], { cwd: root, env: childEnv({}) })
  t.equal(ran.stderr, '', 'no error')
  t.equal(ran.stdout, 'session=a%20b\n', 'the cookie went through')
})
