import { spawn } from 'node:child_process'

export interface Ran {
  /** The exit code; null when a signal ended the program. */
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a program to completion and resolves even when it fails, so a test can show what it printed. */
export function run (command: string, args: string[], options: { cwd: string, env: NodeJS.ProcessEnv }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * What the caller's terminal must not change in a program we run and read the output of: in a
 * terminal tap gives its children FORCE_COLOR=1 (then Node colours `console.log(200)`), and a
 * locale can translate or reorder what tools print. Colour is switched off, the locale fixed.
 */
const CALLER_ONLY = ['FORCE_COLOR', 'NO_COLOR', 'NODE_DISABLE_COLORS', 'CLICOLOR', 'CLICOLOR_FORCE', 'COLORTERM', 'TERM', 'LANG', 'LANGUAGE']

/**
 * The environment for a program that is not the library under test, with tap's coverage
 * recording off. tap records every child process (its processinfo hook wraps spawn and
 * re-adds itself to NODE_OPTIONS), and the demo runs our sources through tsx, whose source
 * maps differ from tap's loader: merged, they would garble the report. processinfo leaves a
 * variable of its own alone when the spawn options set it.
 */
export function childEnv (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) {
    if (CALLER_ONLY.includes(name) || name.startsWith('LC_')) delete env[name]
  }
  return { ...env, NO_COLOR: '1', LC_ALL: 'C', ...extra, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
}
