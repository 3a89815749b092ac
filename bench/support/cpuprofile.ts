import { readFile } from 'node:fs/promises'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface Frame {
  name: string
  /** Share of all samples spent in the frame itself (self time). */
  self: number
  /** Share of all samples with the frame anywhere on the stack (total time). */
  total: number
}

const shortUrl = (url: string): string => url
  .replace(/^file:\/\//, '')
  .replace(/.*\/node_modules\//, '')
  .replace(/.*\/wt-[^/]+\//, '')
  .replace(/^\/work\/[^/]+\//, '')

// Positions are in the code V8 ran (for TypeScript, tsx's output): line and column tell frames apart.
const label = ({ functionName, url, lineNumber, columnNumber }: ProfileNode['callFrame']): string =>
  url === '' ? `${functionName || '(anonymous)'}` : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}:${columnNumber + 1}`

/** The top frames of a V8 `.cpuprofile` by self time and by total time, idle and GC shown as such. */
export async function topFrames (file: string, limit = 25): Promise<{ bySelf: Frame[], byTotal: Frame[], samples: number }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let samples = 0
  for (const id of profile.samples) {
    const node = byId.get(id)
    if (node === undefined) continue
    samples++
    const own = label(node.callFrame)
    self.set(own, (self.get(own) ?? 0) + 1)
    // Each frame counts once per sample in total time, however deep the recursion.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label((byId.get(at) as ProfileNode).callFrame)
      if (seen.has(name)) continue
      seen.add(name)
      total.set(name, (total.get(name) ?? 0) + 1)
    }
  }
  const top = (counts: Map<string, number>): Frame[] => [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name]) => ({ name, self: (self.get(name) ?? 0) / samples, total: (total.get(name) ?? 0) / samples }))
  return { bySelf: top(self), byTotal: top(total), samples }
}

export function formatFrames (frames: readonly Frame[]): string {
  return frames.map((f) => `${(f.self * 100).toFixed(1).padStart(6)}% self ${(f.total * 100).toFixed(1).padStart(6)}% total  ${f.name}`).join('\n')
}
