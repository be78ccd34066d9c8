/**
 * The README's configuration table is CONFIG_VARIABLES written out (the same text `--help` prints), so it must
 * list the same variables, in the same order, with the same defaults and descriptions. When this fails, replace
 * the table's rows with the ones the failure message prints.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../../scripts/stack/paths.js';
import { CONFIG_VARIABLES } from '../../src/config/config.js';

const VARIABLE_ROW = /^\| `[A-Z][A-Z0-9_]*` \|/;

function expectedRows(): string[] {
  return CONFIG_VARIABLES.map(
    (v) => `| \`${v.name}\` | ${v.default === undefined ? '—' : `\`${v.default}\``} | ${v.description} |`,
  );
}

/** The rows of the table under "## Configuration", up to the next section. */
function readmeRows(): string[] {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Configuration\n');
  assert.notEqual(start, -1, 'README.md has a "## Configuration" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return section.split('\n').filter((line) => VARIABLE_ROW.test(line));
}

test("the README's configuration table is exactly CONFIG_VARIABLES", () => {
  const expected = expectedRows();
  assert.deepEqual(
    readmeRows(),
    expected,
    `README.md's configuration table is out of date; its rows should be:\n${expected.join('\n')}`,
  );
});
