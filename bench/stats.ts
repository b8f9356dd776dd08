/** The p-th percentile (nearest rank) of a sample; NaN for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

/** Milliseconds to one decimal, as the benches report them. */
export const round = (ms: number): number => Math.round(ms * 10) / 10;

/** The median of a sample; NaN for an empty one. */
export const median = (values: readonly number[]): number => percentile(values, 50);
