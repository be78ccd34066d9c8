/**
 * The Grafana dashboard and the Prometheus alert rules are written against the stage's metric names and labels;
 * these tests hold them to what the stage's registry really exports, so a renamed metric or label fails here
 * instead of leaving an empty panel or an alert that can never fire.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  TARGET_LABELS,
  exportedSeries,
  isRecord,
  labelValuesQuery,
  list,
  promqlReferences,
  readText,
  readYaml,
  record,
  text,
  type PromqlReferences,
} from './support.js';

const DASHBOARD = 'deploy/grafana/eos-rollup.json';
const ALERTS = 'deploy/prometheus/alerts.yml';
const ALERT_TESTS = 'deploy/prometheus/alerts.test.yml';
const JOB = 'eos-rollup';

interface Query {
  where: string;
  expr: string;
  legend?: string;
}

/** Panels of the dashboard, rows' nested panels included. */
function dashboardPanels(dashboard: Record<string, unknown>): Record<string, unknown>[] {
  const panels: Record<string, unknown>[] = [];
  for (const panel of list(dashboard.panels, 'panels')) {
    const p = record(panel, 'panel');
    panels.push(p);
    if (Array.isArray(p.panels)) panels.push(...p.panels.map((nested) => record(nested, 'nested panel')));
  }
  return panels;
}

function dashboard(): Record<string, unknown> {
  return record(JSON.parse(readText(DASHBOARD)), DASHBOARD);
}

function dashboardQueries(): Query[] {
  return dashboardPanels(dashboard()).flatMap((panel) =>
    (Array.isArray(panel.targets) ? panel.targets : []).map((target): Query => {
      const t = record(target, 'target');
      const where = `panel "${text(panel.title, 'title')}" ${text(t.refId, 'refId')}`;
      return {
        where,
        expr: text(t.expr, `${where} expr`),
        ...(typeof t.legendFormat === 'string' ? { legend: t.legendFormat } : {}),
      };
    }),
  );
}

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

function alertRules(): Rule[] {
  const groups = list(record(readYaml(ALERTS), ALERTS).groups, 'groups');
  return groups.flatMap((group) =>
    list(record(group, 'group').rules, 'rules').map((rule): Rule => {
      const r = record(rule, 'rule');
      const alert = text(r.alert, 'alert');
      return {
        alert,
        expr: text(r.expr, `${alert} expr`),
        labels: record(r.labels, `${alert} labels`),
        annotations: record(r.annotations, `${alert} annotations`),
      };
    }),
  );
}

/** Every problem with one expression: unknown metrics, matchers on labels the metric lacks, unknown groupings. */
function problemsOf(
  where: string,
  references: PromqlReferences,
  series: ReadonlyMap<string, ReadonlySet<string>>,
  legend?: string,
): string[] {
  const problems: string[] = [];
  const available = new Set(TARGET_LABELS);
  for (const metric of references.metrics) {
    const labels = series.get(metric);
    if (!labels) problems.push(`${where}: ${metric} is not a metric the stage exports`);
    else for (const label of labels) available.add(label);
  }
  for (const { metric, label } of references.matchers) {
    const labels = series.get(metric);
    if (labels && !labels.has(label) && !TARGET_LABELS.includes(label))
      problems.push(`${where}: ${metric} has no label ${label}`);
  }
  for (const label of references.groupings) {
    if (!available.has(label)) problems.push(`${where}: no metric of the expression has label ${label}`);
  }
  for (const [, label] of (legend ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) {
    if (label !== undefined && !available.has(label))
      problems.push(`${where}: legend uses {{${label}}}, a label no metric of the expression has`);
  }
  return problems;
}

test('the PromQL reader finds metrics, matchers and groupings, and takes no function or keyword for a metric', () => {
  const references = promqlReferences(
    'sum by (reason) (rate(eos_rollup_dead_letters_total{job="eos-rollup", reason!~"late|x"}[5m]))' +
      ' / on (job) group_left scalar(sum(rate(eos_rollup_records_consumed_total{instance=~"$instance"}[$__rate_interval])))' +
      ' > 1e3 and absent(up{job="eos-rollup"} == 1)',
  );
  assert.deepEqual(references.metrics, [
    'eos_rollup_dead_letters_total',
    'eos_rollup_records_consumed_total',
    'up',
  ]);
  assert.deepEqual(references.matchers, [
    { metric: 'eos_rollup_dead_letters_total', label: 'job' },
    { metric: 'eos_rollup_dead_letters_total', label: 'reason' },
    { metric: 'eos_rollup_records_consumed_total', label: 'instance' },
    { metric: 'up', label: 'job' },
  ]);
  assert.deepEqual(references.groupings, ['reason', 'job']);
});

test('the checks catch a metric, a matcher label and a grouping the stage does not export', () => {
  const series = exportedSeries();
  const problems = problemsOf(
    'probe',
    promqlReferences(
      'sum by (topic) (rate(eos_rollup_records_consumed{job="x"}[5m])) + max(eos_rollup_ready{partition="1"})',
    ),
    series,
    '{{reason}}',
  );
  assert.deepEqual(problems, [
    'probe: eos_rollup_records_consumed is not a metric the stage exports',
    'probe: eos_rollup_ready has no label partition',
    'probe: no metric of the expression has label topic',
    'probe: legend uses {{reason}}, a label no metric of the expression has',
  ]);
});

test("every dashboard query uses only metrics the stage exports, with those metrics' labels", () => {
  const series = exportedSeries();
  const queries = dashboardQueries();
  assert.ok(queries.length >= 30, `the dashboard has its queries (${queries.length})`);
  const problems = queries.flatMap((q) => problemsOf(q.where, promqlReferences(q.expr), series, q.legend));
  assert.deepEqual(problems, []);
});

test('every dashboard variable lists label values of an exported metric that has that label', () => {
  const series = exportedSeries();
  const variables = list(record(dashboard().templating, 'templating').list, 'templating.list').map((v) =>
    record(v, 'variable'),
  );
  const queries = variables.filter((v) => v.type === 'query');
  assert.deepEqual(
    queries.map((v) => v.name),
    ['job', 'instance', 'group'],
  );
  for (const variable of queries) {
    const query = isRecord(variable.query) ? variable.query.query : variable.query;
    const { references, label } = labelValuesQuery(text(query, `variable ${String(variable.name)}`));
    assert.deepEqual(problemsOf(`variable ${String(variable.name)}`, references, series), []);
    const [metric] = references.metrics;
    assert.ok(metric !== undefined, `variable ${String(variable.name)} names a metric`);
    const labels = series.get(metric);
    assert.ok(
      labels?.has(label) === true || TARGET_LABELS.includes(label),
      `${metric} has label ${label} (variable ${String(variable.name)})`,
    );
  }
});

test('the dashboard shows lag, throughput, commit latency, transactions, DLQ, rebalances, restores, breakers, readiness, event loop and memory', () => {
  const exprs = dashboardQueries().map((q) => q.expr);
  const uses = (pattern: RegExp) => exprs.some((e) => pattern.test(e));
  const wanted: [string, RegExp][] = [
    ['lag in records per partition', /by \(topic, partition\) \(kafka_consumergroup_group_lag\{/],
    ['lag in seconds per partition', /by \(topic, partition\) \(kafka_consumergroup_group_lag_seconds\{/],
    ['max lag in records', /kafka_consumergroup_group_max_lag\{/],
    ['max lag in seconds', /kafka_consumergroup_group_max_lag_seconds\{/],
    ['records consumed per second', /rate\(eos_rollup_records_consumed_total\{/],
    ['rollups produced per second', /rate\(eos_rollup_rollups_produced_total\{/],
    [
      'commit latency p50',
      /histogram_quantile\(0\.5, sum by \(le\) \(rate\(eos_rollup_commit_latency_seconds_bucket/,
    ],
    [
      'commit latency p99',
      /histogram_quantile\(0\.99, sum by \(le\) \(rate\(eos_rollup_commit_latency_seconds_bucket/,
    ],
    ['transactions committed', /rate\(eos_rollup_transactions_committed_total\{/],
    ['transactions aborted by reason', /by \(reason\) \(rate\(eos_rollup_transactions_aborted_total\{/],
    ['DLQ rate by reason', /by \(reason\) \(rate\(eos_rollup_dead_letters_total\{/],
    ['rebalances', /eos_rollup_rebalances_total\{/],
    ['restore progress', /eos_rollup_restore_remaining_offsets\{/],
    ['circuit breaker state', /eos_rollup_circuit_breaker_state\{/],
    ['readiness', /eos_rollup_ready\{/],
    ['event-loop delay', /nodejs_eventloop_lag_p99_seconds\{/],
    ['resident memory', /process_resident_memory_bytes\{/],
  ];
  assert.deepEqual(
    wanted.filter(([, pattern]) => !uses(pattern)).map(([what]) => what),
    [],
    'panels missing',
  );
});

test('the dashboard is a Grafana dashboard on a Prometheus data-source variable, its panels on a 24-column grid', () => {
  const d = dashboard();
  assert.equal(d.uid, 'eos-rollup');
  assert.ok(typeof d.schemaVersion === 'number' && d.schemaVersion >= 36, 'schemaVersion of Grafana 9+');
  const variables = list(record(d.templating, 'templating').list, 'list').map((v) => record(v, 'variable'));
  const datasource = variables.find((v) => v.type === 'datasource');
  assert.equal(datasource?.name, 'datasource');
  assert.equal(datasource.query, 'prometheus');
  const panels = dashboardPanels(d);
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const panel of panels.filter((p) => p.type !== 'row')) {
    assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, String(panel.title));
    const grid = record(panel.gridPos, `${String(panel.title)} gridPos`);
    assert.ok(Number(grid.x) + Number(grid.w) <= 24, `${String(panel.title)} fits the grid`);
  }
});

test('every alert rule uses only metrics the stage exports, with their labels, and selects job="eos-rollup"', () => {
  const series = exportedSeries();
  const rules = alertRules();
  assert.ok(rules.length >= 10, `alerts.yml has its rules (${rules.length})`);
  const problems = rules.flatMap((rule) => problemsOf(rule.alert, promqlReferences(rule.expr), series));
  assert.deepEqual(problems, []);
  for (const rule of rules) {
    const selectors = [...rule.expr.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*\{([^}]*)\}/g)];
    assert.ok(selectors.length > 0, `${rule.alert} selects series`);
    for (const [selector, body] of selectors)
      assert.match(body ?? '', new RegExp(`(^|,)\\s*job="${JOB}"`), `${rule.alert}: ${selector}`);
  }
});

test('every alert rule has a severity of page, warning or info, a summary and a description', () => {
  for (const rule of alertRules()) {
    assert.ok(['page', 'warning', 'info'].includes(String(rule.labels.severity)), `${rule.alert} severity`);
    assert.ok(text(rule.annotations.summary, `${rule.alert} summary`).length > 10, `${rule.alert} summary`);
    assert.ok(
      text(rule.annotations.description, `${rule.alert} description`).length > 10,
      `${rule.alert} description`,
    );
  }
});

test('the lag-in-seconds alerts carry the documented bands: 10 s, 60 s, 5 min, and 80% of the input retention', () => {
  const byName = new Map(alertRules().map((r) => [r.alert, r]));
  const threshold = (alert: string) => {
    const rule = byName.get(alert);
    assert.ok(rule, `${alert} exists`);
    assert.match(rule.expr, /kafka_consumergroup_group_max_lag_seconds\{/);
    return Number(/>\s*([0-9.]+)\s*$/.exec(rule.expr)?.[1]);
  };
  assert.equal(threshold('EosRollupLagElevated'), 10);
  assert.equal(threshold('EosRollupLagWarning'), 60);
  assert.equal(threshold('EosRollupLagPage'), 300);
  assert.equal(byName.get('EosRollupLagPage')?.labels.severity, 'page');
  const dataLoss = byName.get('EosRollupDataLossImminent');
  assert.match(
    dataLoss?.expr ?? '',
    /kafka_consumergroup_group_lag_seconds\{[^}]*\}\)\s*>\s*on \(topic\) group_left\s*0\.8 \* max by \(topic\) \(eos_rollup_input_retention_seconds\{/,
  );
  assert.equal(dataLoss?.labels.severity, 'page');
});

test('the promtool unit tests of alerts.yml name only rules that exist, and test each lag band', () => {
  const names = new Set(alertRules().map((r) => r.alert));
  const cases = list(record(readYaml(ALERT_TESTS), ALERT_TESTS).tests, 'tests');
  const tested = cases.flatMap((c) =>
    list(record(c, 'test case').alert_rule_test, 'alert_rule_test').map((t) =>
      text(record(t, 'alert_rule_test').alertname, 'alertname'),
    ),
  );
  assert.deepEqual(
    tested.filter((name) => !names.has(name)),
    [],
  );
  for (const band of [
    'EosRollupLagElevated',
    'EosRollupLagWarning',
    'EosRollupLagPage',
    'EosRollupDataLossImminent',
  ])
    assert.ok(tested.includes(band), `${band} is tested`);
});
