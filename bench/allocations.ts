#!/usr/bin/env node
/**
 * `node dist/bench/allocations.js <file.heapprofile> --records N [--top N]`: where a drained input's garbage comes
 * from. Sums the sampled bytes allocated by each function (`name group`, groups as the CPU profile report names
 * them; a builtin such as `Uint8Array` or `entries` is named with its caller) over the whole run and divides them
 * by the input records, largest first. Write the profile with `npm run bench:profile -- --allocations`. Sampled:
 * sites under a few bytes per record are noise, and start-up (restore, inventory) is in the totals.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { groupOf } from './lib/cpu-profile.js';

interface CallFrame {
  functionName: string;
  url: string;
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children?: HeapNode[];
}

function frameName(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${groupOf(frame)}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { records: { type: 'string' }, top: { type: 'string', default: '30' } },
  });
  const [file] = positionals;
  const records = Number(values.records);
  const top = Number(values.top);
  if (file === undefined || !Number.isSafeInteger(records) || records < 1 || !Number.isInteger(top)) {
    console.error('usage: allocations <file.heapprofile> --records N [--top N]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const bySite = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode, caller: HeapNode | undefined): void => {
    if (node.selfSize > 0) {
      const own = frameName(node.callFrame);
      // A builtin allocates for whoever called it: the caller is the site worth knowing.
      const site = node.callFrame.url === '' && caller ? `${own} < ${frameName(caller.callFrame)}` : own;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children ?? []) visit(child, node);
  };
  visit(profile.head, undefined);
  console.log(
    `${(total / 2 ** 20).toFixed(0)} MiB sampled, ${(total / records).toFixed(0)} bytes per input record`,
  );
  console.log('| bytes per record | share | allocation site |');
  console.log('|---:|---:|---|');
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`| ${(bytes / records).toFixed(0)} | ${((bytes / total) * 100).toFixed(1)}% | \`${site}\` |`);
  }
}

main();
