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
 * The environment minus what tap adds to trace coverage: the programs run here are not the
 * library under test, and their coverage must not be mixed into the suite's.
 */
export function untracedEnv (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || key === 'NODE_V8_COVERAGE' || key.startsWith('_TAPJS') || key.startsWith('TAP')) continue
    env[key] = value
  }
  return { ...env, ...extra }
}
