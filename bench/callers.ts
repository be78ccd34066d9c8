#!/usr/bin/env node
/**
 * `node dist/bench/callers.js <file.cpuprofile> <function> [--depth N]`: who pays for a function's self time.
 * The profile's flat view (`bench:profile`) names `_copyActual` or `fromArrayLike`, not the code that asked for
 * the copy; this sums the self time of every frame whose `name group` (as the profile report prints it) contains
 * `<function>` by its chain of callers, `--depth` frames up (default 4), largest first. Keep profiles with
 * `npm run bench:profile -- --keep-profile`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { groupOf, type CpuProfile, type CpuProfileNode } from './lib/cpu-profile.js';

type Node = CpuProfileNode & { children?: number[] };

function frameName(node: Node): string {
  return `${node.callFrame.functionName || '(anonymous)'} ${groupOf(node.callFrame)}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { depth: { type: 'string', default: '4' }, top: { type: 'string', default: '15' } },
  });
  const [file, wanted] = positionals;
  const depth = Number(values.depth);
  if (file === undefined || wanted === undefined || !Number.isInteger(depth) || depth < 1) {
    console.error('usage: callers <file.cpuprofile> <function> [--depth N] [--top N]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile & { nodes: Node[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, Node>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const samples = profile.samples?.length ?? 0;
  const msPerHit = samples === 0 ? 0 : (profile.endTime - profile.startTime) / 1000 / samples;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const chains = new Map<string, number>();
  let matchedMs = 0;
  for (const node of byId.values()) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || !frameName(node).includes(wanted)) continue;
    const chain: string[] = [];
    for (let up = parentOf.get(node.id); up !== undefined && chain.length < depth; up = parentOf.get(up.id))
      chain.push(frameName(up));
    const key = `${frameName(node)}\n    ← ${chain.join('\n    ← ')}`;
    chains.set(key, (chains.get(key) ?? 0) + hits * msPerHit);
    matchedMs += hits * msPerHit;
  }
  console.log(
    `"${wanted}": ${matchedMs.toFixed(0)} ms self time, ${((100 * matchedMs) / totalMs).toFixed(1)}% of the profile`,
  );
  const sorted = [...chains].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  for (const [chain, ms] of sorted) console.log(`${((100 * ms) / matchedMs).toFixed(1)}%  ${chain}`);
}

main();
