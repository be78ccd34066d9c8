import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  renderSoakMarkdown,
  renderSoakSvg,
  summarizeSoak,
  trend,
  type MemorySample,
  type SoakResult,
} from '../../bench/lib/memory-soak.js';

/** One sample a minute for 30 minutes: RSS and heap as `rss(minute)` and `heap(minute)` say. */
function run(rss: (minute: number) => number, heap: (minute: number) => number): MemorySample[] {
  return Array.from({ length: 31 }, (_, minute) => ({
    atS: minute * 60,
    rssMb: rss(minute),
    heapUsedMb: heap(minute),
    heapTotalMb: heap(minute) + 40,
    committed: minute * 60 * 30_000,
    lag: 1000,
  }));
}

function result(samples: MemorySample[]): SoakResult {
  return {
    generatedAt: '2026-12-05T20:00:00.000Z',
    gitCommit: '0123456789abcdef0123456789abcdef01234567',
    nodeVersion: 'v20.20.2',
    minutes: 30,
    ratePerSecond: 30_000,
    hosts: 10_000,
    partitions: 6,
    warmUpS: 300,
    samples,
    ...summarizeSoak(samples, 300),
  };
}

void test('a least-squares trend gives the rise over the span and the slope per hour', () => {
  const t = trend([
    { x: 0, y: 100 },
    { x: 1800, y: 110 },
    { x: 3600, y: 120 },
  ]);
  assert.deepEqual(t, { growthMb: 20, meanMb: 110, slopeMbPerHour: 20 });
  assert.equal(trend([{ x: 0, y: 1 }]), null, 'too few points');
});

void test('memory that grows during warm-up and then breathes is flat', () => {
  const samples = run(
    (minute) => (minute < 5 ? 200 + 40 * minute : 400 + (minute % 2 === 0 ? 15 : -15)),
    (minute) => (minute < 5 ? 50 + 20 * minute : 150 + (minute % 3) * 10),
  );
  const summary = summarizeSoak(samples, 300);
  assert.equal(summary.flat, true);
  assert.equal(summary.committedPerSecond, 30_000);
  assert.equal(summary.maxLag, 1000);
});

void test('a steady leak of 1 MB a minute after warm-up is not flat (negative control)', () => {
  const samples = run(
    (minute) => 400 + minute,
    (minute) => 150 + minute,
  );
  const summary = summarizeSoak(samples, 300);
  assert.equal(summary.flat, false);
  assert.ok(summary.rss !== null && Math.abs(summary.rss.slopeMbPerHour - 60) < 1e-9, 'RSS rises 60 MB/h');
});

void test('the report gives the verdict and a chart with one line per series; rendering is deterministic', () => {
  const flat = result(
    run(
      () => 400,
      () => 150,
    ),
  );
  const md = renderSoakMarkdown(flat);
  assert.match(md, /\*\*Verdict: flat\*\*/);
  assert.match(md, /!\[RSS and heap over the run\]\(latest\.svg\)/);
  const svg = renderSoakSvg(flat);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
  assert.ok(svg.trimEnd().endsWith('</svg>') && !svg.includes('NaN'));
  assert.equal(renderSoakSvg(flat), svg);
  assert.match(
    renderSoakMarkdown(
      result(
        run(
          (m) => 400 + m,
          (m) => 150 + m,
        ),
      ),
    ),
    /\*\*Verdict: growing\*\*/,
  );
});
