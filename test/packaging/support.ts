/**
 * What the packaging tests share: the repository's deployment files parsed, the metric names and labels the
 * stage really exports (its own registry, built as `eos-rollup run` builds it), and a small PromQL reader that
 * finds the metric names, label matchers and grouping labels an expression uses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Histogram, Registry, Summary } from 'prom-client';
import { parse, parseAllDocuments } from 'yaml';

import { repoRoot } from '../../scripts/stack/paths.js';
import { CONFIG_VARIABLES, type VariableName } from '../../src/config/variables.js';
import { StageEvents } from '../../src/observability/events.js';
import { attachMetrics } from '../../src/observability/metrics.js';
import { Watchdog, watchdogOptions } from '../../src/observability/watchdog.js';

export function readText(path: string): string {
  return readFileSync(join(repoRoot(), path), 'utf8');
}

/** One YAML document; merge keys (`<<: *anchor`) resolved as Docker Compose resolves them. */
export function readYaml(path: string): unknown {
  return parse(readText(path), { merge: true });
}

export function readYamlDocuments(path: string): unknown[] {
  return parseAllDocuments(readText(path)).map((document) => document.toJS() as unknown);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object, or a failure that names where it was expected. */
export function record(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

export function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`);
  return value as unknown[];
}

export function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export const VARIABLE_NAMES: ReadonlySet<string> = new Set(CONFIG_VARIABLES.map((v) => v.name));

export function variableDefault(name: VariableName): string {
  const variable = CONFIG_VARIABLES.find((v) => v.name === name);
  if (variable?.default === undefined) throw new Error(`${name} has no default`);
  return variable.default;
}

/** Labels Prometheus adds to every scraped series. */
export const TARGET_LABELS: readonly string[] = ['job', 'instance'];

/**
 * Every series name the stage exports, with its labels: its registry with every source attached (as `run` does
 * with METRICS_PORT set) and prom-client's default metrics; a histogram exports `_bucket` (with `le`), `_sum`
 * and `_count`. Prometheus' own `up` is added, since rules may use it.
 */
export function exportedSeries(): ReadonlyMap<string, ReadonlySet<string>> {
  const registry = new Registry();
  attachMetrics(
    new StageEvents(),
    registry,
    {
      readiness: () => ({ ready: true, reasons: [], partitions: [] }),
      lag: () => Promise.resolve(undefined),
      lagLookupFailures: () => 0,
      watchdog: new Watchdog(watchdogOptions(100, 60_000), Date.now, {
        raised: () => undefined,
        cleared: () => undefined,
      }),
      identity: { group: 'g', topic: 't', memberHost: 'h', consumerId: 'c', clientId: 'k' },
    },
    { defaultMetrics: true },
  );
  const series = new Map<string, ReadonlySet<string>>([['up', new Set()]]);
  for (const metric of registry.getMetricsAsArray()) {
    // The registry holds the metric objects themselves; prom-client's typings leave their labelNames out.
    const labels = new Set((metric as { labelNames?: readonly string[] }).labelNames ?? []);
    if (metric instanceof Histogram) {
      series.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      series.set(`${metric.name}_sum`, labels);
      series.set(`${metric.name}_count`, labels);
    } else if (metric instanceof Summary) {
      series.set(metric.name, new Set([...labels, 'quantile']));
      series.set(`${metric.name}_sum`, labels);
      series.set(`${metric.name}_count`, labels);
    } else {
      series.set(metric.name, labels);
    }
  }
  return series;
}

/** What a PromQL expression refers to. */
export interface PromqlReferences {
  /** Metric names, in order of appearance, duplicates kept out. */
  metrics: string[];
  /** Label names in selectors, by the metric they select. */
  matchers: { metric: string; label: string }[];
  /** Label names of by / without / on / ignoring / group_left / group_right clauses. */
  groupings: string[];
}

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
const IDENTIFIER = /[a-zA-Z_:][a-zA-Z0-9_:]*/g;
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/**
 * The metric names, matchers and grouping labels of a PromQL expression. Enough PromQL for dashboards and
 * rules: strings, ranges and Grafana variables are blanked first; an identifier followed by "(" is a function.
 */
export function promqlReferences(expr: string): PromqlReferences {
  let rest = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' ');
  const matchers: PromqlReferences['matchers'] = [];
  rest = rest.replace(
    /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g,
    (_all, metric: string | undefined, body: string) => {
      for (const [, label] of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) {
        if (metric !== undefined && label !== undefined) matchers.push({ metric, label });
      }
      return ` ${metric ?? ''} `;
    },
  );
  const groupings: string[] = [];
  rest = rest.replace(GROUPING, (_all, _keyword: string, labels: string) => {
    groupings.push(
      ...labels
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
    );
    return ' ';
  });
  const metrics: string[] = [];
  for (const match of rest.matchAll(IDENTIFIER)) {
    const name = match[0];
    const before = rest[match.index - 1] ?? ' ';
    const after = rest.slice(match.index + name.length);
    if (/[0-9.]/.test(before)) continue; // part of a number such as 1e3
    if (/^\s*\(/.test(after) || KEYWORDS.has(name.toLowerCase())) continue;
    if (!metrics.includes(name)) metrics.push(name);
  }
  return { metrics, matchers, groupings };
}

/** `label_values(<selector>, <label>)` of a Grafana variable: the selector's references and the label. */
export function labelValuesQuery(query: string): { references: PromqlReferences; label: string } {
  const match = /^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query);
  if (!match?.[1] || !match[2]) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { references: promqlReferences(match[1]), label: match[2] };
}
