/** Every alert leads its reader to a runbook entry that exists: a runbook_url into docs/operations.md. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { list, readText, readYaml, record, text } from './support.js';

function alerts(): Record<string, unknown>[] {
  const groups = list(record(readYaml('deploy/prometheus/alerts.yml'), 'alerts.yml').groups, 'groups');
  return groups.flatMap((group) =>
    list(record(group, 'group').rules, 'rules').map((rule) => record(rule, 'rule')),
  );
}

test("every alert's runbook_url points at its own entry in docs/operations.md", () => {
  const runbook = readText('docs/operations.md');
  const all = alerts();
  assert.ok(all.length > 0, 'alerts.yml has alerts');
  for (const alert of all) {
    const name = text(alert.alert, 'alert');
    const url = text(record(alert.annotations, `${name} annotations`).runbook_url, `${name} runbook_url`);
    assert.equal(url, `docs/operations.md#${name.toLowerCase()}`, name);
    assert.match(runbook, new RegExp(`^### ${name}$`, 'm'), `docs/operations.md has an entry for ${name}`);
  }
});
