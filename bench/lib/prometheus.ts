/** Reads the stage's /metrics (Prometheus text format 0.0.4): histograms and counters summed over labels. Pure. */

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is Infinity. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function parseLabels(text: string): Map<string, string> {
  const labels = new Map<string, string>();
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
    labels.set(
      match[1] ?? '',
      (match[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)),
    );
  }
  return labels;
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    samples.push({
      name: match[1] ?? '',
      labels: parseLabels(match[2] ?? ''),
      value: parseValue(match[3] ?? 'NaN'),
    });
  }
  return samples;
}

/** The histogram `name`, with the series of every other label set added up; undefined if it is absent. */
export function readHistogram(text: string, name: string): Histogram | undefined {
  const samples = parseSamples(text);
  const byLe = new Map<number, number>();
  let sum = 0;
  let count = 0;
  let seen = false;
  for (const sample of samples) {
    if (sample.name === `${name}_bucket`) {
      const le = parseValue(sample.labels.get('le') ?? 'NaN');
      byLe.set(le, (byLe.get(le) ?? 0) + sample.value);
      seen = true;
    } else if (sample.name === `${name}_sum`) {
      sum += sample.value;
    } else if (sample.name === `${name}_count`) {
      count += sample.value;
    }
  }
  if (!seen) return undefined;
  const buckets = [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, c]) => ({ le, count: c }));
  return { buckets, sum, count };
}

/** The counter or gauge `name`, summed over its label sets; 0 if absent. */
export function readTotal(text: string, name: string): number {
  return parseSamples(text)
    .filter((s) => s.name === name)
    .reduce((total, s) => total + s.value, 0);
}

/**
 * The q-quantile the way Prometheus' histogram_quantile computes it: find the bucket holding rank q·count and
 * interpolate linearly inside it (from 0 for the first bucket); a rank in the +Inf bucket gives the highest finite
 * bound. The result is only as precise as the bucket layout.
 */
export function histogramQuantile(histogram: Histogram, q: number): number | null {
  const total = histogram.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of histogram.buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousLe;
      const inBucket = bucket.count - previousCount;
      if (inBucket <= 0) return bucket.le;
      return previousLe + ((bucket.le - previousLe) * (rank - previousCount)) / inBucket;
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return previousLe;
}

/** `after − before`, bucket by bucket: the observations made between two scrapes. */
export function histogramDelta(after: Histogram, before: Histogram | undefined): Histogram {
  if (!before) return after;
  const previous = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (previous.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}
