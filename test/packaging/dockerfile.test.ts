/**
 * The Dockerfile read as its stages, without building it: the runtime stage runs as a non-root user under tini,
 * takes production dependencies only and the compiled entry point the package names, and the build context
 * (.dockerignore) still holds every file the Dockerfile copies.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { repoRoot } from '../../scripts/stack/paths.js';
import { readText, variableDefault } from './support.js';

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, grouped by FROM. */
function stages(): Stage[] {
  const joined = readText('Dockerfile')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const result: Stage[] = [];
  for (const line of joined.split('\n')) {
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    const instruction = { keyword: match[1].toUpperCase(), args: match[2].trim() };
    if (instruction.keyword === 'FROM') {
      result.push({ name: / AS (\S+)$/i.exec(instruction.args)?.[1], instructions: [] });
    }
    result.at(-1)?.instructions.push(instruction);
  }
  return result;
}

function runtime(): Stage {
  const last = stages().at(-1);
  assert.ok(last, 'the Dockerfile has a stage');
  return last;
}

function args(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

test('the runtime stage runs as a non-root user', () => {
  const users = args(runtime(), 'USER');
  assert.equal(users.length, 1, 'one USER');
  const [user = ''] = users;
  const name = user.split(':')[0] ?? '';
  assert.ok(name !== 'root' && name !== '0' && name !== '', `USER ${user}`);
  assert.match(name, /^\d+$/, 'numeric, so Kubernetes runAsNonRoot can verify it');
});

test('the runtime stage starts the stage under tini: ENTRYPOINT tini -- node <bin>, CMD run', () => {
  const stage = runtime();
  const [entrypoint] = args(stage, 'ENTRYPOINT');
  assert.ok(entrypoint !== undefined);
  const command = JSON.parse(entrypoint) as string[];
  const pkg = JSON.parse(readText('package.json')) as { bin: Record<string, string> };
  assert.deepEqual(command, ['/usr/bin/tini', '--', 'node', pkg.bin['eos-rollup']]);
  assert.deepEqual(JSON.parse(args(stage, 'CMD')[0] ?? '[]'), ['run']);
  assert.ok(
    args(stage, 'RUN').some((r) => /apt-get install .*\btini\b/.test(r)),
    "tini comes from Debian's package, which installs /usr/bin/tini",
  );
  // The entry point the image runs is what `tsc` emits from src/ (rootDir "."), here as in the image.
  assert.ok(existsSync(join(repoRoot(), 'dist', 'src', 'cli', 'main.js')));
});

test('only production dependencies reach the runtime stage', () => {
  const all = stages();
  const prodDeps = all.find((s) => args(s, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev\b/.test(r)));
  assert.ok(prodDeps?.name, 'a named stage runs npm ci --omit=dev');
  const stage = runtime();
  assert.ok(
    args(stage, 'COPY').some((c) => c.startsWith(`--from=${prodDeps.name} `) && c.includes('node_modules')),
    `node_modules come from ${prodDeps.name}`,
  );
  assert.ok(
    !args(stage, 'RUN').some((r) => /\bnpm (ci|install)\b/.test(r)),
    'no npm install in the runtime stage',
  );
  const build = all.find((s) => args(s, 'RUN').some((r) => r.includes('npm run build')));
  assert.ok(build?.name, 'a named stage compiles');
  assert.ok(args(stage, 'COPY').some((c) => c.startsWith(`--from=${build.name} `) && c.includes('dist')));
  assert.ok(args(stage, 'ENV').some((e) => e.includes('NODE_ENV=production')));
});

test('every stage that installs dependencies copies patches/ first, so kafkajs runs patched in the image', () => {
  const installing = stages().filter((s) => args(s, 'RUN').some((r) => /\bnpm ci\b/.test(r)));
  assert.ok(installing.length > 0);
  for (const stage of installing) {
    const instructions = stage.instructions.map((i) => `${i.keyword} ${i.args}`);
    const copy = instructions.findIndex((i) => /^COPY patches\b/.test(i));
    const install = instructions.findIndex((i) => /^RUN npm ci\b/.test(i));
    assert.ok(copy >= 0 && copy < install, `stage ${stage.name ?? '?'} copies patches/ before npm ci`);
  }
});

test('the runtime stage exposes the default METRICS_PORT', () => {
  assert.deepEqual(args(runtime(), 'EXPOSE'), [variableDefault('METRICS_PORT')]);
});

test('.dockerignore keeps every file the Dockerfile copies from the build context', () => {
  const rules = readText('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(rules[0], '*', 'an allow-list: everything excluded first');
  const allowed = new Set(rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, '')));
  const sources = stages()
    .flatMap((s) => args(s, 'COPY'))
    .filter((c) => !c.startsWith('--from='))
    .flatMap((c) => c.split(/\s+/).slice(0, -1));
  assert.ok(sources.length > 0);
  assert.deepEqual(
    sources.filter((source) => !allowed.has(source.replace(/\/$/, ''))),
    [],
    'copied but ignored',
  );
  for (const source of sources) assert.ok(existsSync(join(repoRoot(), source)), `${source} exists`);
});
