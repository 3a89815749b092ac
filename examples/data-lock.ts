import { readFileSync, unlinkSync } from 'node:fs'
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** `holder` is the pid of the demo holding the data (0 while it is still writing it). */
export type DataLock = { acquired: true, release: () => void } | { acquired: false, holder: number }

/** Whether a process with this id runs (EPERM: it runs, as another user). */
function running (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes `dir/demo.pid` for this process: created exclusively, so of two demos starting at once
 * one wins. A file left by a process that is gone (killed with SIGKILL, say) is taken over.
 * `release()` is synchronous, so that it can run in an 'exit' handler.
 */
export async function acquireDataLock (dir: string): Promise<DataLock> {
  const file = join(dir, 'demo.pid')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return {
        acquired: true,
        release: () => {
          // Only our own file: a later demo may have taken over a lock we were thought to have left.
          let holder = ''
          try { holder = readFileSync(file, 'utf8') } catch {}
          if (holder === String(process.pid)) unlinkSync(file)
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const text = await readFile(file, 'utf8').catch(() => null)
    if (text === null) continue // released meanwhile
    // No pid yet: another demo is between creating the file and writing to it.
    const holder = Number(text)
    if (text === '' || running(holder)) return { acquired: false, holder }
    await rm(file, { force: true })
  }
  // Lost a race for a stale file to another demo starting at the same moment.
  const holder = Number(await readFile(file, 'utf8').catch(() => '0'))
  return { acquired: false, holder }
}
