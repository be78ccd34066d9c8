/**
 * bench/results/latest.svg: two bar charts by peer, hand-written SVG with no dependency. Left: median sustained
 * throughput with a min–max whisker over the rounds. Right: p99 commit latency and p99 input-to-visible latency.
 * A bar far beyond the others (R0, the raw read, is tens of times faster than any pipe) would flatten them all,
 * so the axis is sized for the others and that bar is drawn broken, with its value printed. Pure and
 * deterministic.
 */
import { formatNumber } from './report-md.js';
import type { BenchResult } from './types.js';

const WIDTH = 980;
const ROW = 30;
const TOP = 78;
const LEFT_X = 130;
const RIGHT_X = 640;
const PANEL_WIDTH = 300;
const BAR = 18;
/** A value more than this many times the next largest is drawn broken. */
const OUTLIER_FACTOR = 3;

const COLORS = {
  sut: '#1f6feb',
  other: '#8c959f',
  commit: '#bf8700',
  visible: '#8250df',
  text: '#1f2328',
  muted: '#57606a',
  grid: '#d0d7de',
};

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/**
 * The axis maximum for `values`: a nice bound over all of them, or over all but the largest when that one is
 * more than OUTLIER_FACTOR times the next (it is then drawn broken).
 */
export function axisMax(values: readonly number[]): number {
  const sorted = values.filter((v) => v > 0).sort((a, b) => b - a);
  const [largest = 0, next = 0] = sorted;
  return niceMax(next > 0 && largest > OUTLIER_FACTOR * next ? next : largest);
}

function text(x: number, y: number, body: string, attributes = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attributes ? ` ${attributes}` : ''}>${escape(body)}</text>`;
}

function rect(x: number, y: number, width: number, height: number, fill: string): string {
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(width)}" height="${n(height)}" fill="${fill}"/>`;
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string, width = 1): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}" stroke-width="${width}"/>`;
}

function axis(x0: number, y0: number, height: number, max: number, unit: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const x = x0 + (PANEL_WIDTH * i) / 4;
    parts.push(line(x, y0, x, y0 + height, COLORS.grid));
    parts.push(text(x, y0 + height + 14, formatNumber((max * i) / 4), 'text-anchor="middle" font-size="10"'));
  }
  parts.push(text(x0 + PANEL_WIDTH / 2, y0 + height + 28, unit, 'text-anchor="middle" font-size="11"'));
  return parts;
}

/** A horizontal bar of `value` on an axis of `max`; past the axis it is cut, with a white break across it. */
function bar(x: number, y: number, height: number, value: number, max: number, fill: string): string[] {
  if (value <= max) return [rect(x, y, (PANEL_WIDTH * value) / max, height, fill)];
  const end = x + PANEL_WIDTH + 12;
  return [
    rect(x, y, end - x, height, fill),
    `<path d="M${n(end - 14)} ${n(y - 2)} l6 ${n(height + 4)} M${n(end - 9)} ${n(y - 2)} l6 ${n(height + 4)}" stroke="#ffffff" stroke-width="3"/>`,
  ];
}

/** Where a bar of `value` ends, for the label after it. */
function barEnd(x: number, value: number, max: number): number {
  return value <= max ? x + (PANEL_WIDTH * value) / max : x + PANEL_WIDTH + 12;
}

function throughputPanel(result: BenchResult, plotHeight: number): string[] {
  const peers = result.peers;
  const goodRates = (id: string): number[] =>
    (peers.find((p) => p.id === id)?.rounds ?? [])
      .filter((r) => r.ok && r.throughputRps !== null)
      .map((r) => r.throughputRps ?? 0);
  const max = axisMax(peers.map((p) => Math.max(p.median.throughputRps ?? 0, ...goodRates(p.id))));
  const parts = [
    text(LEFT_X - 110, 22, 'Sustained throughput, records/s', 'font-size="14" font-weight="600"'),
    text(
      LEFT_X - 110,
      40,
      'median over the rounds; whisker: slowest to fastest round',
      `font-size="11" fill="${COLORS.muted}"`,
    ),
    ...axis(LEFT_X, TOP - 8, plotHeight + 8, max, 'records per second'),
  ];
  peers.forEach((peer, i) => {
    const y = TOP + i * ROW;
    parts.push(text(LEFT_X - 8, y + BAR - 4, peer.id, 'text-anchor="end" font-size="12"'));
    const median = peer.median.throughputRps;
    if (median === null) {
      parts.push(text(LEFT_X + 4, y + BAR - 4, 'not measured', `font-size="11" fill="${COLORS.other}"`));
      return;
    }
    parts.push(...bar(LEFT_X, y, BAR, median, max, peer.id.startsWith('SUT') ? COLORS.sut : COLORS.other));
    const rates = goodRates(peer.id);
    if (rates.length > 1 && Math.max(...rates) <= max) {
      const lo = LEFT_X + (PANEL_WIDTH * Math.min(...rates)) / max;
      const hi = LEFT_X + (PANEL_WIDTH * Math.max(...rates)) / max;
      const mid = y + BAR / 2;
      parts.push(line(lo, mid, hi, mid, COLORS.text, 1.5));
      parts.push(line(lo, mid - 5, lo, mid + 5, COLORS.text, 1.5));
      parts.push(line(hi, mid - 5, hi, mid + 5, COLORS.text, 1.5));
    }
    const labelX = Math.max(
      barEnd(LEFT_X, median, max),
      LEFT_X + (PANEL_WIDTH * Math.max(0, ...rates)) / max,
    );
    parts.push(
      text(
        Math.min(labelX, LEFT_X + PANEL_WIDTH + 12) + 6,
        y + BAR - 4,
        formatNumber(median),
        'font-size="11"',
      ),
    );
  });
  return parts;
}

function latencyPanel(result: BenchResult, plotHeight: number): string[] {
  const visibleP99 = (id: string): number | null =>
    result.latency.find((l) => l.peer === id && l.ok)?.p99Ms ?? null;
  const series = result.peers.map((p) => ({
    id: p.id,
    bars: [
      [p.median.commitP99Ms, COLORS.commit],
      [visibleP99(p.id), COLORS.visible],
    ] as [number | null, string][],
  }));
  const max = axisMax(series.flatMap((s) => s.bars.map(([v]) => v ?? 0)));
  const parts = [
    text(RIGHT_X - 110, 22, 'p99 latency, ms', 'font-size="14" font-weight="600"'),
    rect(RIGHT_X - 110, 31, 10, 10, COLORS.commit),
    text(
      RIGHT_X - 96,
      40,
      'commit (each peer’s own measure, see the report)',
      `font-size="11" fill="${COLORS.muted}"`,
    ),
    rect(RIGHT_X - 110, 47, 10, 10, COLORS.visible),
    text(
      RIGHT_X - 96,
      56,
      'input-to-visible (1 s windows, half the sustained rate)',
      `font-size="11" fill="${COLORS.muted}"`,
    ),
    ...axis(RIGHT_X, TOP - 8, plotHeight + 8, max, 'milliseconds'),
  ];
  series.forEach(({ id, bars }, i) => {
    const y = TOP + i * ROW;
    parts.push(text(RIGHT_X - 8, y + BAR - 4, id, 'text-anchor="end" font-size="12"'));
    if (bars.every(([v]) => v === null)) {
      parts.push(text(RIGHT_X + 4, y + BAR - 4, '—', `font-size="11" fill="${COLORS.other}"`));
      return;
    }
    bars.forEach(([value, color], j) => {
      if (value === null) return;
      const barY = y + j * (BAR / 2);
      parts.push(...bar(RIGHT_X, barY, BAR / 2 - 1, value, max, color));
      parts.push(
        text(barEnd(RIGHT_X, value, max) + 4, barY + BAR / 2 - 2, formatNumber(value), 'font-size="9"'),
      );
    });
  });
  return parts;
}

export function renderSvg(result: BenchResult): string {
  const plotHeight = Math.max(1, result.peers.length) * ROW;
  const height = TOP + plotHeight + 70;
  const m = result.machine;
  const caption = `eos-rollup bench ${result.generatedAt.slice(0, 10)} · ${m.gitCommit.slice(0, 12)} · ${m.cpuModel}, ${m.cores} cores · Kafka ${m.kafkaVersion} · ${result.settings.rounds} round(s)${result.settings.quick ? ' (quick)' : ''}`;
  const parts = [
    ...throughputPanel(result, plotHeight),
    ...latencyPanel(result, plotHeight),
    text(WIDTH / 2, height - 10, caption, `text-anchor="middle" font-size="10" fill="${COLORS.muted}"`),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${n(height)}" viewBox="0 0 ${WIDTH} ${n(height)}" font-family="Helvetica, Arial, sans-serif" fill="${COLORS.text}">`,
    `<rect width="${WIDTH}" height="${n(height)}" fill="#ffffff"/>`,
    ...parts.map((p) => `  ${p}`),
    '</svg>',
    '',
  ].join('\n');
}
