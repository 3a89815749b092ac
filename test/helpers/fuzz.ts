import type { Parameters } from 'fast-check'

/**
 * Every property runs from one fixed seed, so CI is reproducible; a failure report gives the
 * seed and path, and `IM_DELETE_FC_SEED=<seed> npx tap <file>` replays it. `IM_DELETE_FC_RUNS`
 * multiplies the runs for a longer local hunt.
 */
export const SEED = Number(process.env.IM_DELETE_FC_SEED ?? 20_260_525)
const SCALE = Number(process.env.IM_DELETE_FC_RUNS ?? 1)

export function runs<T> (numRuns: number): Parameters<T> {
  return { seed: SEED, numRuns: Math.max(1, Math.round(numRuns * SCALE)) }
}

/** Printed once per test file, so any failure can be replayed from the log. */
export const SEED_NOTE = `fast-check seed ${SEED} (replay with IM_DELETE_FC_SEED=${SEED}; scale runs with IM_DELETE_FC_RUNS)`
