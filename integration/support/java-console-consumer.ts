/**
 * Kafka's own Java console consumer at read_committed: the reference the tests hold kafkajs and the stage's
 * readers to. It stops once it idles for `idleMs` at the end of the topic; its closing "Processed a total of N
 * messages" proves it ran to there, and N must be the number of lines it printed.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/stack/paths.js';

export interface JavaConsoleRead {
  brokers: string;
  topic: string;
  /** One partition from its earliest offset; every partition from the beginning when absent. */
  partition?: number;
  /** What each line shows, in this order: `Partition:P\tOffset:O\tkey`; values are never printed. */
  print: readonly ('partition' | 'offset' | 'key')[];
  idleMs: number;
}

/** The lines it printed, one per record in the order it read them. */
export async function javaReadCommitted(read: JavaConsoleRead): Promise<string[]> {
  const where =
    read.partition === undefined
      ? ['--from-beginning']
      : ['--partition', String(read.partition), '--offset', 'earliest'];
  const shown = (field: 'partition' | 'offset' | 'key') => `print.${field}=${read.print.includes(field)}`;
  const child = spawn(
    join(repoRoot(), 'scripts', 'kafka-tool'),
    [
      'kafka-console-consumer',
      ...['--bootstrap-server', read.brokers, '--topic', read.topic, ...where],
      ...['--isolation-level', 'read_committed', '--timeout-ms', String(read.idleMs)],
      ...['--property', shown('partition'), '--property', shown('offset'), '--property', shown('key')],
      ...['--property', 'print.value=false'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await once(child, 'exit');
  const lines = out.split('\n').filter((line) => line.length > 0);
  const total = /Processed a total of (\d+) messages/.exec(err)?.[1];
  if (total === undefined || Number(total) !== lines.length) {
    throw new Error(
      `the console consumer did not finish (${lines.length} lines printed):\n${err.slice(-2000)}`,
    );
  }
  return lines;
}
