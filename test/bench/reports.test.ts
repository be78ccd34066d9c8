import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatNumber, renderMarkdown } from '../../bench/lib/report-md.js';
import { axisMax, niceMax, renderSvg } from '../../bench/lib/report-svg.js';
import { sampleResult } from './fixture.js';

void test('numbers get thousands separators, fixed decimals, and a dash when not measured', () => {
  assert.equal(formatNumber(1234567.8), '1,234,568');
  assert.equal(formatNumber(0.456, 2), '0.46');
  assert.equal(formatNumber(-1234.5, 1), '-1,234.5');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(NaN), '—');
});

void test('the Markdown report opens with the ratios table, before anything else', () => {
  const md = renderMarkdown(sampleResult());
  const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.equal(sections[0], 'Ratios');
  assert.ok(sections.includes('Targets') && sections.includes('Every round'));
  const ratios = md.slice(md.indexOf('## Ratios'), md.indexOf('## Targets'));
  assert.match(
    ratios,
    /\| SUT\/S1 \(eos-rollup vs Kafka Streams EOS v2, 1 s commits\) \| 1\.10 \| ≥ 1\.00 \| pass \(\+10% of target\) \|/,
  );
  assert.match(ratios, /\| EOS tax at 1 s commits \| 9\.8% \| ≤ 10\.0% \| pass \(0\.2% to spare\) \|/);
});

void test('a quick run says its ratios are a smoke check; a full run does not', () => {
  const result = sampleResult();
  assert.ok(!renderMarkdown(result).includes('Quick mode'));
  result.settings.quick = true;
  const md = renderMarkdown(result);
  assert.ok(md.indexOf('Quick mode') < md.indexOf('## Ratios'));
});

void test('every round of every peer appears, in run order, with its failure reason', () => {
  const md = renderMarkdown(sampleResult());
  const rounds = md.slice(md.indexOf('## Every round'), md.indexOf('## Chart'));
  const rows = rounds.split('\n').filter((l) => /^\| \d/.test(l));
  assert.equal(rows.length, 27); // 9 peers, 3 rounds each
  assert.ok(rows.some((r) => r.includes('| SUT-ALO-1s |') && r.endsWith('| failed |')));
});

void test('the same result renders to the same bytes (the report is committed)', () => {
  assert.equal(renderMarkdown(sampleResult()), renderMarkdown(sampleResult()));
  assert.equal(renderSvg(sampleResult()), renderSvg(sampleResult()));
});

void test('the chart is one SVG document with a throughput bar per measured peer and both latency kinds', () => {
  const svg = renderSvg(sampleResult());
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  // 9 throughput bars (4 of the stage, 5 others); latency bars and legend: commit p99 for 3 peers, input-to-visible for 3.
  assert.equal((svg.match(/<rect [^>]*fill="#1f6feb"/g) ?? []).length, 4);
  assert.equal((svg.match(/<rect [^>]*fill="#8c959f"/g) ?? []).length, 5);
  assert.equal((svg.match(/<rect [^>]*fill="#bf8700"/g) ?? []).length, 4);
  assert.equal((svg.match(/<rect [^>]*fill="#8250df"/g) ?? []).length, 4);
  assert.ok(!svg.includes('NaN') && !svg.includes('undefined'));
});

void test('text in the chart is escaped', () => {
  const result = sampleResult();
  result.machine.cpuModel = 'Vendor <R&D> "x"';
  assert.ok(renderSvg(result).includes('Vendor &lt;R&amp;D&gt; &quot;x&quot;'));
});

void test('axis maxima round up to 1, 2, 2.5 or 5 times a power of ten', () => {
  assert.equal(niceMax(55_000), 100_000);
  assert.equal(niceMax(1200), 2000);
  assert.equal(niceMax(2187), 2500);
  assert.equal(niceMax(4100), 5000);
  assert.equal(niceMax(0), 1);
});

void test('a value more than three times the next is left off the axis, which fits the others', () => {
  assert.equal(axisMax([1_890_000, 71_000, 41_000]), 100_000);
  assert.equal(axisMax([200, 71, 41]), 200);
  assert.equal(axisMax([250, 71, 41]), 100);
  assert.equal(axisMax([5]), 5);
  assert.equal(axisMax([]), 1);
});

void test('a bar beyond the axis is drawn broken, with its value printed', () => {
  const result = sampleResult();
  const r0 = result.peers.find((p) => p.id === 'R0');
  assert.ok(r0);
  r0.median.throughputRps = 2_000_000;
  const svg = renderSvg(result);
  assert.equal((svg.match(/<path d="M/g) ?? []).length, 1);
  assert.ok(svg.includes('>2,000,000</text>'));
});
