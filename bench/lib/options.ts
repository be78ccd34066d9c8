/** `npm run bench -- [options]`: the command line, parsed into one frozen settings object. Pure. */
import { parseArgs } from 'node:util';
import { VARIABLE_SPECS } from '../../src/config/variables.js';
import { PEER_IDS, type PeerId } from './types.js';

export interface BenchOptions {
  quick: boolean;
  rounds: number;
  /** One unrecorded R0 pass before round 1 (page cache, broker fetch path); off in quick mode. */
  warmUp: boolean;
  records: number;
  partitions: number;
  hosts: number;
  windowMs: number;
  graceMs: number;
  /** Event-time step between two records of one host. */
  stepMs: number;
  seed: number;
  peers: PeerId[];
  sessionTimeoutMs: number;
  sharedBroker: boolean;
  /** Seconds of live load per latency run; 0 skips them. */
  latencySeconds: number;
  /** Hosts of the live latency load (one rollup per host and window). */
  latencyHosts: number;
  /** Peers that get a latency run (those measured among them). */
  latencyPeers: PeerId[];
  /** Live load of the recovery run; undefined: half SUT-1s's sustained rate, at most liveRateCap. */
  recoveryRate: number | undefined;
  /**
   * Caps the live load of the latency and recovery runs. Quick mode's sustained rates come from short runs that
   * overstate them, and its recovery audit reads every record, so quick mode caps both at 5,000 records/s.
   */
  liveRateCap: number;
  /** Seconds of live load before the kill in the recovery run; 0 skips it. */
  recoverySeconds: number;
  /** Session timeout of the recovery and churn runs: the stage's default, what users run. */
  recoverySessionTimeoutMs: number;
  /** The churn run SIGKILLs one of two members this often; 0 skips it. */
  churnEverySeconds: number;
  /** The broker-kill scenarios on three-node clusters (cluster-run.ts); off in quick mode. */
  cluster: boolean;
  /** Give up on a peer that has not caught up after this long. */
  peerTimeoutSeconds: number;
  s1Heap: string;
  outDir: string;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick                  1 round, a small input, short latency and recovery runs (under 3 minutes)
  --rounds <n>             interleaved rounds [3]
  --records <n>            input records preloaded once [3000000; quick 100000]
  --partitions <n>         input partitions [6]
  --hosts <n>              hosts (record keys) [10000]
  --window-ms <ms>         tumbling window [60000]
  --grace-ms <ms>          grace [5000]
  --step-ms <ms>           event-time step between two records of one host [10000]
  --seed <n>               workload seed [1]
  --peers <list>           comma-separated subset of ${PEER_IDS.join(',')} [all but K1-ALO; quick: also not S1-100ms and the -2t peers]
  --session-timeout-ms <ms>  session timeout of every peer [10000]
  --shared-broker          measure on the shared stack's broker (quick's default: no broker start-up)
  --private-broker         measure on a private broker of this run (the default without --quick)
  --latency-seconds <s>    live load per input-to-visible latency run, 0 = skip [30; quick 5]
  --latency-hosts <n>      hosts in the latency load [1000]
  --latency-peers <list>   peers with a latency run [SUT-100ms,SUT-1s,S1-1s,S1-100ms; quick SUT-1s,S1-1s]
  --recovery-rate <n>      live load of the recovery run, records/s [half SUT-1s's sustained rate]
  (quick mode caps the live load of the latency and recovery runs at 5000 records/s)
  --recovery-seconds <s>   steady live load before the SIGKILL in the recovery runs, 0 = skip [20; quick 5]
  --recovery-session-timeout-ms <ms>  session timeout of the recovery and churn runs [30000, the stage's default]
  --churn-every-s <s>      churn run: SIGKILL one of two static members this often, 0 = skip [10; quick 0]
  --cluster / --no-cluster  the broker-kill scenarios on three-node clusters of the same jars, ~5 minutes [on; quick off]
  --peer-timeout-s <s>     longest a peer may take to catch up [900]
  --s1-heap <size>         S1's JVM -Xmx [1g]
  --out <dir>              where latest.json, latest.md and latest.svg go [bench/results]`;

export class UsageError extends Error {}

/** K1-ALO only on request: the stage's own at-least-once mode (SUT-ALO-1s) is the EOS tax's baseline. */
const FULL_PEERS: PeerId[] = PEER_IDS.filter((id) => id !== 'K1-ALO');
const QUICK_PEERS: PeerId[] = ['R0', 'R1', 'K1', 'SUT-100ms', 'SUT-1s', 'SUT-ALO-1s', 'S1-1s'];

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} ${JSON.stringify(text)}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function peerList(text: string | undefined, fallback: PeerId[], option = 'peers'): PeerId[] {
  if (text === undefined) return fallback;
  const ids = text.split(',').map((s) => s.trim());
  const known = new Set<string>(PEER_IDS);
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0 || ids.length === 0) {
    throw new UsageError(
      `--${option}: unknown ${unknown.join(', ')}; expected some of ${PEER_IDS.join(',')}`,
    );
  }
  // Report order is the canonical one, whatever order was typed.
  return PEER_IDS.filter((id) => ids.includes(id));
}

/** undefined: --help. */
export function parseBenchArgs(args: readonly string[]): Readonly<BenchOptions> | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        rounds: { type: 'string' },
        records: { type: 'string' },
        partitions: { type: 'string' },
        hosts: { type: 'string' },
        'window-ms': { type: 'string' },
        'grace-ms': { type: 'string' },
        'step-ms': { type: 'string' },
        seed: { type: 'string' },
        peers: { type: 'string' },
        'session-timeout-ms': { type: 'string' },
        'shared-broker': { type: 'boolean' },
        'private-broker': { type: 'boolean' },
        'latency-seconds': { type: 'string' },
        'latency-hosts': { type: 'string' },
        'latency-peers': { type: 'string' },
        'recovery-rate': { type: 'string' },
        'recovery-seconds': { type: 'string' },
        'recovery-session-timeout-ms': { type: 'string' },
        'churn-every-s': { type: 'string' },
        cluster: { type: 'boolean' },
        'no-cluster': { type: 'boolean' },
        'peer-timeout-s': { type: 'string' },
        's1-heap': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return undefined;
  if (values['shared-broker'] === true && values['private-broker'] === true) {
    throw new UsageError('--shared-broker and --private-broker exclude each other');
  }
  if (values.cluster === true && values['no-cluster'] === true) {
    throw new UsageError('--cluster and --no-cluster exclude each other');
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const quick = values.quick === true;
  const windowMs = integer('window-ms', text('window-ms'), 60_000, 1000, 86_400_000);
  const graceMs = integer('grace-ms', text('grace-ms'), 5000, 0, 10 * windowMs);
  const s1Heap = text('s1-heap') ?? '1g';
  if (!/^\d+[kmgKMG]?$/.test(s1Heap))
    throw new UsageError(`--s1-heap ${s1Heap}: expected a JVM size like 768m`);
  return Object.freeze({
    quick,
    rounds: integer('rounds', text('rounds'), quick ? 1 : 3, 1, 100),
    warmUp: !quick,
    records: integer('records', text('records'), quick ? 100_000 : 3_000_000, 1000, 100_000_000),
    partitions: integer('partitions', text('partitions'), 6, 1, 1000),
    hosts: integer('hosts', text('hosts'), 10_000, 1, 1_000_000),
    windowMs,
    graceMs,
    stepMs: integer('step-ms', text('step-ms'), 10_000, 1, 3_600_000),
    seed: integer('seed', text('seed'), 1, 0, 0xffffffff),
    peers: peerList(text('peers'), quick ? QUICK_PEERS : FULL_PEERS),
    sessionTimeoutMs: integer('session-timeout-ms', text('session-timeout-ms'), 10_000, 1000, 300_000),
    sharedBroker: values['shared-broker'] === true || (quick && values['private-broker'] !== true),
    latencySeconds: integer('latency-seconds', text('latency-seconds'), quick ? 5 : 30, 0, 3600),
    latencyHosts: integer('latency-hosts', text('latency-hosts'), 1000, 1, 1_000_000),
    latencyPeers: peerList(
      text('latency-peers'),
      quick ? ['SUT-1s', 'S1-1s'] : ['SUT-100ms', 'SUT-1s', 'S1-1s', 'S1-100ms'],
      'latency-peers',
    ).filter((id) => id.startsWith('SUT') || id.startsWith('S1')),
    recoveryRate:
      text('recovery-rate') === undefined
        ? undefined
        : integer('recovery-rate', text('recovery-rate'), 0, 1, 1_000_000),
    liveRateCap: quick ? 5000 : Number.POSITIVE_INFINITY,
    recoverySeconds: integer('recovery-seconds', text('recovery-seconds'), quick ? 5 : 20, 0, 3600),
    recoverySessionTimeoutMs: integer(
      'recovery-session-timeout-ms',
      text('recovery-session-timeout-ms'),
      Number(VARIABLE_SPECS.SESSION_TIMEOUT_MS.default),
      1000,
      300_000,
    ),
    churnEverySeconds: integer('churn-every-s', text('churn-every-s'), quick ? 0 : 10, 0, 3600),
    cluster: values.cluster === true || (!quick && values['no-cluster'] !== true),
    peerTimeoutSeconds: integer('peer-timeout-s', text('peer-timeout-s'), 900, 10, 86_400),
    s1Heap,
    outDir: text('out') ?? 'bench/results',
  });
}
