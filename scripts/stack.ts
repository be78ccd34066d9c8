#!/usr/bin/env node
/** `npm run stack:up | stack:down | stack:status`: the local Kafka + registry stack for tests, demos and benchmarks. */
import { parseArgs } from 'node:util';
import { parseBrokerCount } from './stack/cluster.js';
import { down, status, up } from './stack/local-stack.js';

async function main(command: string | undefined, rest: string[]): Promise<number> {
  switch (command) {
    case 'up': {
      // One broker unless `--brokers 3`: CI and every test file run against the one-broker stack.
      const { values } = parseArgs({ args: rest, options: { brokers: { type: 'string' } } });
      await up(console.log, parseBrokerCount(values.brokers));
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status':
      return (await status()) ? 0 : 1;
    default:
      console.error('usage: stack <up [--brokers 1|3]|down|status>');
      return 2;
  }
}

main(process.argv[2], process.argv.slice(3)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`stack: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
