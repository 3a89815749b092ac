/** The p-quantile (0..1) of an ascending array, by the nearest-rank method. */
export function percentile (sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil(p * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
}

/**
 * Least-squares slope and the worst relative deviation from the fitted line: how close to
 * linear a series of (size, cost) points grows.
 */
export function linearFit (points: ReadonlyArray<[number, number]>): { slope: number, intercept: number, r2: number } {
  const n = points.length
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const syy = points.reduce((s, [, y]) => s + (y - my) ** 2, 0)
  const slope = sxx === 0 ? 0 : sxy / sxx
  const r2 = sxx === 0 || syy === 0 ? 1 : (sxy * sxy) / (sxx * syy)
  return { slope, intercept: my - slope * mx, r2 }
}

export const round = (value: number, digits = 2): number => Number.isFinite(value) ? Number(value.toFixed(digits)) : value

export const mib = (bytes: number): number => round(bytes / 1024 / 1024, 1)

/** A side-by-side comparison's verdict: the median of per-round ratios, those ratios, and whether it meets its target (a floor). */
export function ratioVerdict (ratios: readonly number[], target: number | null): { ratio: number, ratios: number[], target: number | null, met: boolean | null } {
  const ratio = round(median(ratios), 3)
  return { ratio, ratios: ratios.map((x) => round(x, 3)), target, met: target === null ? null : ratio >= target }
}
