/**
 * Where the bench runs: by default a private broker of its own (scripts/stack `startBroker`) next to the shared
 * stack's registry. The shared broker carries other people's test traffic (topics, transactions, rebalances,
 * killed stages) that would land in the middle of a measurement, and a bench run writes several GB there that
 * nobody would clean; a private broker is quiet, configured the same way, and deleted with its directory at the
 * end. The registry only answers a handful of schema lookups per run, so sharing it costs nothing.
 *
 * The shared stack is used as it is when it is up, else started and, at the end, stopped only if this run started
 * it. `--shared-broker` measures on the shared broker instead (no broker start-up, less isolation).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, isHealthy, readAddresses, startBroker, up } from '../../scripts/stack/local-stack.js';

export interface BenchEnvironment {
  brokers: string;
  registryUrl: string;
  /** 'private' (this run's own broker) or 'shared' (the stack's). */
  broker: 'private' | 'shared';
  startedStack: boolean;
  release: () => Promise<void>;
}

/**
 * `keepBrokerLogAs`: where the private broker's server.log is copied before its directory goes, so a peer's
 * failure that the broker answered (an error code with no reason given) can be looked up afterwards.
 */
export async function acquireEnvironment(
  useSharedBroker: boolean,
  log: (line: string) => void,
  keepBrokerLogAs?: string,
): Promise<BenchEnvironment> {
  let startedStack = false;
  let shared = (await isHealthy()) ? readAddresses() : undefined;
  if (!shared) {
    log('shared stack not up: starting it (stopped again at the end)');
    shared = (await up(log)).addresses;
    startedStack = true;
  }
  const stopStack = async (): Promise<void> => {
    if (startedStack) await down(log);
  };
  if (useSharedBroker) {
    return {
      brokers: shared.brokers,
      registryUrl: shared.registryUrl,
      broker: 'shared',
      startedStack,
      release: stopStack,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'eos-rollup-bench-broker-'));
  // A run ended by a signal skips release(): startBroker kills the broker then, and this removes its data.
  const removeDir = (): void => {
    try {
      if (keepBrokerLogAs !== undefined) copyFileSync(join(dir, 'server.log'), keepBrokerLogAs);
    } catch {
      // No log yet, or nowhere to keep it: keeping it is a courtesy; removing the broker's data is not.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', removeDir);
  try {
    const broker = await startBroker({ dir, log });
    return {
      brokers: broker.brokers,
      registryUrl: shared.registryUrl,
      broker: 'private',
      startedStack,
      release: async () => {
        try {
          await broker.stop();
        } finally {
          process.off('exit', removeDir);
          removeDir();
          await stopStack();
        }
      },
    };
  } catch (error) {
    process.off('exit', removeDir);
    removeDir();
    await stopStack();
    throw error;
  }
}
