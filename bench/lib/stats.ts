/**
 * Order statistics for the bench. Every function takes the samples as they come (unsorted) and returns null for
 * no samples, so a figure that could not be measured stays null in the JSON instead of turning into 0 or NaN.
 */

/**
 * The q-quantile (0 ≤ q ≤ 1) with linear interpolation between the two nearest ranks (Hyndman and Fan type 7,
 * what numpy and R use by default), so the median of an even count is the mean of the middle two.
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is outside [0, 1]`);
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const rank = q * (sorted.length - 1);
  const below = Math.floor(rank);
  const above = Math.ceil(rank);
  const low = sorted[below] ?? 0;
  const high = sorted[above] ?? low;
  return low + (high - low) * (rank - below);
}

export function median(values: readonly number[]): number | null {
  return quantile(values, 0.5);
}

export function mean(values: readonly number[]): number | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  return finite.reduce((sum, v) => sum + v, 0) / finite.length;
}

/** The median of the figures that were measured; null when none was. */
export function medianOf(values: readonly (number | null | undefined)[]): number | null {
  return median(values.filter((v): v is number => typeof v === 'number'));
}

/** Rounds for the report files: fixed significant digits keep the JSON stable to read and to diff. */
export function round(value: number | null, digits = 3): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  if (value === 0) return 0;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return Number(value.toFixed(Math.min(decimals, 12)));
}
