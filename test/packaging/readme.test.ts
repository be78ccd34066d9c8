/**
 * The documented alert table (docs/operations.md) and ACL table (docs/security.md) are summaries of one source
 * each, deploy/prometheus/alerts.yml and deploy/kafka/acls.sh; these tests keep the summaries in step with them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { list, readText, readYaml, record, text } from './support.js';
import { defaultTransactionalId } from '../../src/engine/task-dependencies.js';

/** Rows of the first table after `heading` whose first column starts with a backtick or a word, split. */
function tableAfter(file: string, heading: string, header: string): string[][] {
  const readme = readText(file);
  const start = readme.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `${file} has "${heading}"`);
  const tableStart = readme.indexOf(`\n${header}\n`, start);
  assert.notEqual(tableStart, -1, `"${heading}" has a table "${header}"`);
  const rows: string[][] = [];
  for (const line of readme
    .slice(tableStart + 1)
    .split('\n')
    .slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const ALERTS_DOC = 'docs/operations.md';
const ALERT_HEADING = '## Lag in seconds: thresholds and alert rules';

test('the documented alert table lists the rules of alerts.yml, in order, with their severities', () => {
  const rules = list(record(readYaml('deploy/prometheus/alerts.yml'), 'alerts').groups, 'groups').flatMap(
    (g) =>
      list(record(g, 'group').rules, 'rules').map((r) => {
        const rule = record(r, 'rule');
        return [`\`${text(rule.alert, 'alert')}\``, String(record(rule.labels, 'labels').severity)];
      }),
  );
  const rows = tableAfter(ALERTS_DOC, ALERT_HEADING, '| alert | severity | fires when |').map((row) =>
    row.slice(0, 2),
  );
  assert.deepEqual(rows, rules);
});

test('the documented lag bands name alerts of alerts.yml with their severities', () => {
  const severities = new Map(
    list(record(readYaml('deploy/prometheus/alerts.yml'), 'alerts').groups, 'groups').flatMap((g) =>
      list(record(g, 'group').rules, 'rules').map((r) => {
        const rule = record(r, 'rule');
        return [text(rule.alert, 'alert'), String(record(rule.labels, 'labels').severity)] as const;
      }),
    ),
  );
  const bands = tableAfter(ALERTS_DOC, ALERT_HEADING, '| lag in seconds | state | alert (severity) |');
  assert.equal(bands.length, 5);
  for (const [, , alert = ''] of bands.slice(1)) {
    const match = /^`(\w+)` \((\w+)\)$/.exec(alert);
    assert.ok(match?.[1] && match[2], alert);
    assert.equal(severities.get(match[1]), match[2], alert);
  }
});

/** `acl` calls of deploy/kafka/acls.sh, merged by resource: "type name pattern" → operations. */
function scriptAcls(): Map<string, Set<string>> {
  const names: Record<string, string> = {
    '"$INPUT_TOPIC"': '<INPUT_TOPIC>',
    '"$INVENTORY_TOPIC"': '<INVENTORY_TOPIC>',
    '"$OUTPUT_TOPIC"': '<OUTPUT_TOPIC>',
    '"$DLQ_TOPIC"': '<DLQ_TOPIC>',
    '"$CHANGELOG_TOPIC"': '<APP_ID>-rollup-state-changelog',
    '"$ATTEMPTS_TOPIC"': '<APP_ID>-processing-attempts',
    '"$APP_ID"': '<APP_ID>',
    '"${APP_ID}-inventory-"': '<APP_ID>-inventory-',
    '"${APP_ID}-restore-"': '<APP_ID>-restore-',
    '"${APP_ID}-${INPUT_TOPIC}-"': '<APP_ID>-<INPUT_TOPIC>-',
  };
  const acls = new Map<string, Set<string>>();
  for (const line of readText('deploy/kafka/acls.sh').split('\n')) {
    const call = /^\s*acl (--.*)$/.exec(line)?.[1];
    if (call === undefined) continue;
    const words = call.split(/\s+/);
    const value = (flag: string) => words[words.indexOf(flag) + 1] ?? '';
    const operations = words.flatMap((w, i) => (w === '--operation' ? [words[i + 1] ?? ''] : []));
    const type = ['--topic', '--group', '--transactional-id', '--cluster'].find((f) => words.includes(f));
    assert.ok(type, `a resource in: ${line}`);
    const name = type === '--cluster' ? 'kafka-cluster' : names[value(type)];
    assert.ok(name, `a known name in: ${line}`);
    const pattern = words.includes('--resource-pattern-type') ? value('--resource-pattern-type') : 'literal';
    const key = `${type.slice(2)} ${name} ${pattern}`;
    const merged = acls.get(key) ?? new Set<string>();
    for (const operation of operations) merged.add(operation);
    acls.set(key, merged);
  }
  return acls;
}

test('the documented ACL table grants what deploy/kafka/acls.sh grants, resource by resource', () => {
  const rows = tableAfter(
    'docs/security.md',
    '## Minimum ACLs',
    '| resource | name | pattern | operations | needed for |',
  );
  const readme = new Map(
    rows.map(([type = '', name = '', pattern = '', operations = '']) => [
      `${type} ${name.replace(/`/g, '')} ${pattern}`,
      new Set(operations.split(',').map((o) => o.trim())),
    ]),
  );
  const script = scriptAcls();
  assert.ok(script.size >= 10, `the script grants on ${script.size} resources`);
  assert.deepEqual(
    [...readme].map(([k, ops]) => [k, [...ops].sort()]),
    [...script].map(([k, ops]) => [k, [...ops].sort()]),
  );
});

test('the transactional-id prefix of the ACLs covers the id a task uses, as the README documents it', () => {
  // Negative controls replace the id through a decorator; this is the one production builds.
  assert.equal(defaultTransactionalId('<APP_ID>', '<INPUT_TOPIC>', 7), '<APP_ID>-<INPUT_TOPIC>-7');
  assert.ok(scriptAcls().has('transactional-id <APP_ID>-<INPUT_TOPIC>- prefixed'));
  assert.ok(readText('README.md').includes('(`<APP_ID>-<INPUT_TOPIC>-<partition>`)'));
});
