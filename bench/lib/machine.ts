/** Facts about the machine and the code under test, for the report's header. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stackVersions } from '../../scripts/stack/paths.js';
import { parseClockTicks, parseCpuInfo } from './proc.js';
import type { BenchResult } from './types.js';

function run(command: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    // `java -version` writes to stderr.
    const stderr = (error as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' && stderr !== '' ? stderr : undefined;
  }
}

export function javaVersion(javaBin: string): string {
  const out = run(javaBin, ['-version']) ?? '';
  // execFileSync returns stdout; java prints its version on stderr, so ask for it the other way too.
  const text = out || (run('sh', ['-c', `"${javaBin}" -version 2>&1`]) ?? '');
  return /version "([^"]+)"/.exec(text)?.[1] ?? 'unknown';
}

export function clockTicksPerSecond(): number {
  return parseClockTicks(run('getconf', ['CLK_TCK']));
}

/** The commit checked out at `root`, or 'unknown' outside git. */
export function gitCommit(root: string): string {
  return run('git', ['rev-parse', 'HEAD'], root)?.trim() ?? 'unknown';
}

export function describeMachine(root: string, javaBin: string): BenchResult['machine'] {
  let cpu = { model: 'unknown', cores: 0 };
  try {
    cpu = parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    // not Linux: leave it unknown
  }
  // Dirty: what the stage runs (its code, schemas, dependency patches, manifest) differs from the commit,
  // new files included.
  const status =
    run('git', ['status', '--porcelain', '--', 'src', 'schemas', 'patches', 'package.json'], root) ?? '';
  return {
    cpuModel: cpu.model,
    cores: cpu.cores,
    kafkaVersion: stackVersions(root).kafka,
    nodeVersion: process.version,
    javaVersion: javaVersion(javaBin),
    gitCommit: gitCommit(root),
    gitDirty: status.trim() !== '',
  };
}
