/** A plain-text table with a header rule, columns padded to their widest cell. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (row: readonly string[]): string => row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  ').trimEnd(), ...rows.map(line)].join('\n')
}

/** The same table in Markdown, for bench/README.md. */
export function markdownTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (row: readonly string[]): string => `| ${row.join(' | ')} |`
  return [line(header), line(header.map((_, i) => i === 0 ? '---' : '---:')), ...rows.map(line)].join('\n')
}
