#!/usr/bin/env node
/** `npm run stack:up | stack:down | stack:status`: the local Kafka + registry stack for tests, demos and benchmarks. */
import { down, status, up } from './stack/local-stack.js';

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await up();
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      return (await status()) ? 0 : 1;
    default:
      console.error('usage: stack <up|down|status>');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`stack: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
