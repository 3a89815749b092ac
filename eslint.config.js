import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

// Standard style for our TypeScript (the fastify org's choice); build output and the
// other gitignored paths are not ours to lint.
export default neostandard({
  ts: true,
  ignores: resolveIgnoresFromGitignore()
})
