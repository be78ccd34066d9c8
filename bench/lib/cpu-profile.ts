/**
 * Self time from a V8 .cpuprofile (what `node --cpu-prof` writes), grouped by where the code lives. Pure.
 *
 * A node's self time is its hitCount × the sampling interval; the interval is the profile's duration over its
 * sample count, so the shares add up to the whole profile, idle and GC included.
 */

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface SelfTime {
  name: string;
  /** Self time in ms. */
  ms: number;
  /** Share of the whole profile, 0..1. */
  share: number;
}

/**
 * The group a call frame counts in: a file of kafkajs (the package worked on), another package, this project's
 * own compiled file, a Node.js internal module, or V8's pseudo-frames ("(garbage collector)", "(idle)") and
 * native builtins, which have no url.
 */
export function groupOf(frame: { functionName: string; url: string }): string {
  const { url, functionName } = frame;
  if (url === '')
    return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`;
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const packageAt = path.lastIndexOf('/node_modules/');
  if (packageAt >= 0) {
    const inside = path.slice(packageAt + '/node_modules/'.length).split('/');
    const name = inside[0]?.startsWith('@') ? `${inside[0]}/${inside[1] ?? ''}` : (inside[0] ?? '');
    if (name === 'kafkajs') return inside.join('/');
    return name;
  }
  const dist = path.indexOf('/dist/');
  return dist >= 0 ? `eos-rollup ${path.slice(dist + '/dist/'.length)}` : path;
}

function add(into: Map<string, number>, key: string, ms: number): void {
  into.set(key, (into.get(key) ?? 0) + ms);
}

/** Self time per group and per function (`name group`), each sorted by time, largest first. */
export function selfTimes(profile: CpuProfile): {
  groups: SelfTime[];
  functions: SelfTime[];
  totalMs: number;
} {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const intervalMs = hits > 0 ? totalMs / hits : 0;
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const node of profile.nodes) {
    const ms = (node.hitCount ?? 0) * intervalMs;
    if (ms === 0) continue;
    const group = groupOf(node.callFrame);
    add(groups, group, ms);
    add(functions, `${node.callFrame.functionName || '(anonymous)'} ${group}`, ms);
  }
  const sorted = (map: Map<string, number>): SelfTime[] =>
    [...map]
      .map(([name, ms]) => ({ name, ms, share: totalMs > 0 ? ms / totalMs : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return { groups: sorted(groups), functions: sorted(functions), totalMs };
}
