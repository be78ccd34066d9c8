/**
 * The memory soak's figures and report (`npm run bench:soak`): RSS and V8 heap samples of one stage under a
 * steady live load for tens of minutes, the verdict "flat", and the Markdown report with its chart. Pure.
 *
 * Flat means no growth that the run can tell from noise: after a warm-up (the windows, the inventory table and
 * the clients reach their steady size in the first minutes), the least-squares line through the RSS samples
 * must not rise by more than FLAT_TOLERANCE of the mean RSS over the measured span, and the same for the heap in
 * use. A leak of a record's worth per transaction would rise steadily and fail it; a collector that breathes
 * does not move the fitted line.
 */
import { formatNumber } from './report-md.js';
import { niceMax } from './report-svg.js';

export interface MemorySample {
  /** Seconds since the stage started. */
  atS: number;
  rssMb: number;
  /** From the stage's /metrics (`nodejs_heap_size_used_bytes`); null when a scrape failed. */
  heapUsedMb: number | null;
  heapTotalMb: number | null;
  /** The group's committed offsets, summed over partitions, and the lag behind the input's end. */
  committed: number;
  lag: number;
}

export interface Trend {
  /** Fitted growth over the measured span, MB (the line's rise from its first sample to its last). */
  growthMb: number;
  meanMb: number;
  /** Megabytes per hour. */
  slopeMbPerHour: number;
}

export interface SoakResult {
  generatedAt: string;
  gitCommit: string;
  nodeVersion: string;
  minutes: number;
  ratePerSecond: number;
  hosts: number;
  partitions: number;
  warmUpS: number;
  samples: MemorySample[];
  rss: Trend | null;
  heapUsed: Trend | null;
  flat: boolean | null;
  /** Records committed per second over the measured span: the load was kept up with. */
  committedPerSecond: number | null;
  maxLag: number | null;
}

export const FLAT_TOLERANCE = 0.05;

/** The least-squares line through the points, as its rise over their span; null with fewer than 3. */
export function trend(points: readonly { x: number; y: number }[]): Trend | null {
  if (points.length < 3) return null;
  const count = points.length;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / count;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / count;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.x - meanX) * (p.y - meanY);
    variance += (p.x - meanX) ** 2;
  }
  if (variance === 0) return null;
  const slope = covariance / variance;
  const span = (points[count - 1]?.x ?? 0) - (points[0]?.x ?? 0);
  return { growthMb: slope * span, meanMb: meanY, slopeMbPerHour: slope * 3600 };
}

/** The verdict and trends over the samples after `warmUpS`. */
export function summarizeSoak(
  samples: readonly MemorySample[],
  warmUpS: number,
): Pick<SoakResult, 'rss' | 'heapUsed' | 'flat' | 'committedPerSecond' | 'maxLag'> {
  const measured = samples.filter((s) => s.atS >= warmUpS);
  const rss = trend(measured.map((s) => ({ x: s.atS, y: s.rssMb })));
  const heapUsed = trend(
    measured.flatMap((s) => (s.heapUsedMb === null ? [] : [{ x: s.atS, y: s.heapUsedMb }])),
  );
  const withinTolerance = (t: Trend | null) => t !== null && t.growthMb <= FLAT_TOLERANCE * t.meanMb;
  const first = measured[0];
  const last = measured[measured.length - 1];
  return {
    rss,
    heapUsed,
    flat: rss === null || heapUsed === null ? null : withinTolerance(rss) && withinTolerance(heapUsed),
    committedPerSecond:
      first && last && last.atS > first.atS
        ? (last.committed - first.committed) / (last.atS - first.atS)
        : null,
    maxLag: measured.length === 0 ? null : Math.max(...measured.map((s) => s.lag)),
  };
}

const WIDTH = 900;
const HEIGHT = 360;
const PLOT = { left: 70, right: 170, top: 40, bottom: 50 };
const LINES = [
  { key: 'rssMb', label: 'RSS', color: '#1f6feb' },
  { key: 'heapTotalMb', label: 'V8 heap total', color: '#8c959f' },
  { key: 'heapUsedMb', label: 'V8 heap used', color: '#8250df' },
] as const;

function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** RSS and heap over the run's minutes, the warm-up shaded; hand-written SVG, deterministic. */
export function renderSoakSvg(result: SoakResult): string {
  const samples = result.samples;
  const maxS = Math.max(60, ...samples.map((s) => s.atS));
  const maxMb = niceMax(Math.max(...samples.map((s) => Math.max(s.rssMb, s.heapTotalMb ?? 0))));
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const x = (atS: number) => PLOT.left + (atS / maxS) * plotWidth;
  const y = (mb: number) => PLOT.top + plotHeight - (mb / maxMb) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="22" font-size="14" fill="#1f2328">Stage memory over ${result.minutes} minutes at ${formatNumber(result.ratePerSecond, 0)} records/s</text>`,
    `<rect x="${n(x(0))}" y="${PLOT.top}" width="${n(x(Math.min(result.warmUpS, maxS)) - x(0))}" height="${plotHeight}" fill="#f6f8fa"/>`,
  ];
  for (let step = 0; step <= 5; step++) {
    const mb = (maxMb * step) / 5;
    parts.push(
      `<line x1="${PLOT.left}" x2="${PLOT.left + plotWidth}" y1="${n(y(mb))}" y2="${n(y(mb))}" stroke="#d0d7de"/>`,
      `<text x="${PLOT.left - 8}" y="${n(y(mb) + 4)}" text-anchor="end" fill="#57606a">${formatNumber(mb, 0)} MB</text>`,
    );
  }
  const minuteStep = Math.max(1, Math.ceil(maxS / 60 / 10));
  for (let minute = 0; minute * 60 <= maxS; minute += minuteStep) {
    parts.push(
      `<text x="${n(x(minute * 60))}" y="${PLOT.top + plotHeight + 18}" text-anchor="middle" fill="#57606a">${minute}</text>`,
    );
  }
  parts.push(
    `<text x="${PLOT.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle" fill="#57606a">minutes since start (shaded: warm-up, not judged)</text>`,
  );
  for (const [index, line] of LINES.entries()) {
    const points = samples.flatMap((s) => {
      const value = s[line.key];
      return value === null ? [] : [`${n(x(s.atS))},${n(y(value))}`];
    });
    parts.push(
      `<polyline fill="none" stroke="${line.color}" stroke-width="2" points="${points.join(' ')}"/>`,
      `<rect x="${WIDTH - PLOT.right + 16}" y="${PLOT.top + index * 22}" width="14" height="4" fill="${line.color}"/>`,
      `<text x="${WIDTH - PLOT.right + 36}" y="${PLOT.top + index * 22 + 6}" fill="#1f2328">${line.label}</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function trendText(t: Trend | null): string {
  if (t === null) return '—';
  return `${formatNumber(t.growthMb, 1)} MB over the span (${formatNumber((100 * t.growthMb) / t.meanMb, 1)}% of its mean ${formatNumber(t.meanMb, 0)} MB; ${formatNumber(t.slopeMbPerHour, 1)} MB/h)`;
}

export function renderSoakMarkdown(result: SoakResult): string {
  const verdict = result.flat === null ? 'not measured' : result.flat ? 'flat' : 'growing';
  const everyMinute = result.samples.filter(
    (s, i, all) => i === all.length - 1 || Math.floor(s.atS / 60) !== Math.floor((all[i + 1]?.atS ?? 0) / 60),
  );
  return [
    `# eos-rollup memory soak`,
    '',
    `${result.generatedAt.slice(0, 10)}, commit \`${result.gitCommit.slice(0, 12)}\`, Node ${result.nodeVersion}. One stage (\`eos-rollup run\`, exactly-once, 1 s commits, defaults otherwise) on the shared stack for ${result.minutes} minutes under a live load of ${formatNumber(result.ratePerSecond, 0)} records/s over ${formatNumber(result.hosts, 0)} hosts and ${result.partitions} partitions, event time = wall clock (60 s windows close as they would in production). RSS from /proc, heap from the stage's /metrics, every sample; the first ${formatNumber(result.warmUpS / 60, 1)} minutes are warm-up and not judged.`,
    '',
    `**Verdict: ${verdict}** (flat: the least-squares line through RSS, and through heap used, rises by at most ${FLAT_TOLERANCE * 100}% of its mean over the judged span).`,
    '',
    '| figure | value |',
    '|---|---:|',
    `| RSS trend after warm-up | ${trendText(result.rss)} |`,
    `| heap used trend after warm-up | ${trendText(result.heapUsed)} |`,
    `| peak RSS | ${formatNumber(Math.max(...result.samples.map((s) => s.rssMb)), 0)} MB |`,
    `| records committed per second after warm-up | ${result.committedPerSecond === null ? '—' : formatNumber(result.committedPerSecond, 0)} |`,
    `| highest lag after warm-up, records | ${result.maxLag === null ? '—' : formatNumber(result.maxLag, 0)} |`,
    '',
    '![RSS and heap over the run](latest.svg)',
    '',
    '| minute | RSS MB | heap used MB | heap total MB | lag |',
    '|---:|---:|---:|---:|---:|',
    ...everyMinute.map(
      (s) =>
        `| ${formatNumber(s.atS / 60, 1)} | ${formatNumber(s.rssMb, 0)} | ${s.heapUsedMb === null ? '—' : formatNumber(s.heapUsedMb, 0)} | ${s.heapTotalMb === null ? '—' : formatNumber(s.heapTotalMb, 0)} | ${formatNumber(s.lag, 0)} |`,
    ),
    '',
  ].join('\n');
}
