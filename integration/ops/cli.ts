/** Runs the `eos-rollup` command as an operator would: a child process, its stdout, stderr and exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestEnvironment } from '../support/environment.js';
import type { PipelineNames } from '../support/pipeline.js';

const MAIN = join(__dirname, '../../src/cli/main.js');

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The variables the stage would get for these topics, so the command sees what the stage sees. */
export function pipelineEnv(env: TestEnvironment, names: PipelineNames): Record<string, string> {
  return {
    KAFKA_BROKERS: env.brokers,
    SCHEMA_REGISTRY_URL: env.registryUrl,
    APP_ID: names.appId,
    INPUT_TOPIC: names.input,
    INVENTORY_TOPIC: names.inventory,
    OUTPUT_TOPIC: names.output,
    DLQ_TOPIC: names.dlq,
    TOPIC_REPLICATION_FACTOR: '1',
    LOG_LEVEL: 'info',
  };
}

export function startCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(process.execPath, ['--enable-source-maps', MAIN, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs the command to its end; kills it (and fails) when it takes longer than `timeoutMs`. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  const run = startCli(args, env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  try {
    const exit = await run.exited;
    if (exit.signal === 'SIGKILL' && run.child.killed)
      throw new Error(`eos-rollup ${args.join(' ')} took longer than ${timeoutMs} ms:\n${run.stderr()}`);
    return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

export function describeRun(result: CliResult): string {
  return `exit ${result.code ?? result.signal ?? '?'}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}
