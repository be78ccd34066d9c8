/**
 * A three-node Kafka cluster of the test file's own (scripts/stack `startCluster`: combined broker+controller
 * nodes, a three-voter quorum, replication factor 3 with two in sync), for scenarios that kill, restart or pause
 * one broker of several while the stage runs. Three JVMs start slowly on a small machine, so the cluster is
 * started once per file in `before()` and every test of the file shares it; each test has its own topics and
 * transactional ids. In `after()` the file's stage processes are killed, then the nodes, and the directory goes.
 *
 * Which node to strike is asked of Kafka itself: partition leaders from metadata, coordinators and the active
 * controller from Kafka's own Java tools (`kafka-transactions describe`, `kafka-consumer-groups --describe
 * --state`, `kafka-metadata-quorum describe --status`), the reference where a client and the broker might differ.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Kafka } from 'kafkajs';
import {
  clusterNodeDirs,
  startCluster,
  type BrokerHandle,
  type ClusterHandle,
} from '../../scripts/stack/local-stack.js';
import { repoRoot } from '../../scripts/stack/paths.js';
import { testEnvironment } from './environment.js';
import { withAdmin } from './kafka.js';
import { useStageSuite, type StageSuite } from './stage-suite.js';

export interface ClusterSuite extends StageSuite {
  readonly cluster: ClusterHandle;
  /** Node `id` (1, 2 or 3). */
  node(id: number): BrokerHandle;
  /** The node id that leads `topic`'s `partition` now, from a fresh metadata request. */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** The node id of the transaction coordinator of `transactionalId`, per `kafka-transactions describe`. */
  transactionCoordinatorOf(transactionalId: string): Promise<number>;
  /** The node id of the group coordinator of `groupId`, per `kafka-consumer-groups --describe --state`. */
  groupCoordinatorOf(groupId: string): Promise<number>;
  /** The node id of the active controller (the quorum's leader), per `kafka-metadata-quorum describe --status`. */
  activeController(): Promise<number>;
  /** The bootstrap addresses of the nodes running now, comma-separated: none just killed. */
  runningBrokers(): string;
}

export function usePrivateCluster(
  extraProperties: Record<string, string> = {},
  layout: { dedicatedControllers?: boolean } = {},
): ClusterSuite {
  let dir: string | undefined;
  let cluster: ClusterHandle | undefined;
  const own = (): ClusterHandle => {
    if (!cluster) throw new Error('the private cluster is used before its before() hook ran');
    return cluster;
  };
  const suite = useStageSuite(
    async () => {
      const shared = await testEnvironment();
      dir = mkdtempSync(join(tmpdir(), 'eos-rollup-cluster-'));
      cluster = await startCluster({ dir, extraProperties, ...layout });
      const started = cluster;
      return {
        kind: 'local-stack',
        brokers: started.brokers,
        registryUrl: shared.registryUrl,
        release: () => started.stop(),
      };
    },
    async () => {
      try {
        if (cluster)
          await Promise.all([...cluster.nodes, ...cluster.controllers].map((node) => node.kill('SIGKILL')));
      } finally {
        if (dir) {
          keepNodeLogs(dir);
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  );
  // Only the nodes that run: Kafka's tools would otherwise spend their timeouts on a bootstrap node just killed.
  const running = () =>
    own()
      .nodes.filter((node) => node.isRunning)
      .map((node) => node.brokers)
      .join(',');
  const helpers = {
    get cluster() {
      return own();
    },
    node(id: number): BrokerHandle {
      const node = own().nodes[id - 1];
      if (!node) throw new Error(`no node ${id}: the cluster's nodes are 1, 2 and 3`);
      return node;
    },
    runningBrokers: running,
    leaderOf: (topic: string, partition: number) => leaderOf(suite.kafka, topic, partition),
    transactionCoordinatorOf: (transactionalId: string) =>
      coordinatorFromTool(
        [
          'kafka-transactions',
          '--bootstrap-server',
          running(),
          'describe',
          '--transactional-id',
          transactionalId,
        ],
        transactionCoordinator,
      ),
    groupCoordinatorOf: (groupId: string) =>
      coordinatorFromTool(
        [
          'kafka-consumer-groups',
          '--bootstrap-server',
          running(),
          '--describe',
          '--state',
          '--group',
          groupId,
        ],
        groupCoordinator,
      ),
    activeController: () =>
      coordinatorFromTool(
        ['kafka-metadata-quorum', '--bootstrap-server', running(), 'describe', '--status'],
        quorumLeader,
      ),
  };
  return Object.defineProperties(suite, Object.getOwnPropertyDescriptors(helpers)) as ClusterSuite;
}

async function leaderOf(kafka: Kafka, topic: string, partition: number): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const leader = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    if (leader === undefined || leader < 0) throw new Error(`${topic}-${partition} has no leader`);
    return leader;
  });
}

/** `kafka-transactions describe`: a header line, then a tab-separated row whose first column is CoordinatorId. */
export function transactionCoordinator(output: string): number | undefined {
  const [header, row] = output.trim().split('\n');
  if (!header?.startsWith('CoordinatorId') || row === undefined) return undefined;
  const id = Number(row.split(/\s+/)[0]);
  return Number.isInteger(id) ? id : undefined;
}

/** `kafka-consumer-groups --describe --state`: the COORDINATOR (ID) column reads `host:port  (id)`. */
export function groupCoordinator(output: string): number | undefined {
  const match = /^\S+\s+\S+:\d+\s+\((\d+)\)/m.exec(output.split('\n').slice(1).join('\n'));
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** `kafka-metadata-quorum describe --status`: a `LeaderId:` line among others; -1 while no leader is elected. */
export function quorumLeader(output: string): number | undefined {
  const match = /^LeaderId:\s+(-?\d+)\s*$/m.exec(output);
  const id = match?.[1] === undefined ? undefined : Number(match[1]);
  return id !== undefined && id > 0 ? id : undefined;
}

/**
 * Runs a Kafka tool until `parse` finds a node id in its output: right after a strike, the tool may meet a
 * coordinator still moving (COORDINATOR_NOT_AVAILABLE, a node that does not answer) and is asked again.
 */
async function coordinatorFromTool(
  args: string[],
  parse: (output: string) => number | undefined,
  timeoutMs = 60_000,
): Promise<number> {
  const tool = join(repoRoot(), 'scripts', 'kafka-tool');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      // A tool whose AdminClient keeps retrying a coordinator just killed would wait out its 60 s API timeout:
      // cut it short and ask again, the controller has fenced the dead node by then.
      const { stdout } = await promisify(execFile)(tool, args, { timeout: 15_000 });
      const id = parse(stdout);
      if (id !== undefined) return id;
      last = stdout;
    } catch (error) {
      last = String((error as { stderr?: unknown }).stderr ?? error);
    }
    await sleep(500);
  }
  throw new Error(`${args.slice(0, 1).join(' ')} named no coordinator within ${timeoutMs} ms:\n${last}`);
}

/** EOS_ROLLUP_TEST_LOG_DIR keeps every node's server.log beside the stage logs for a post-mortem. */
function keepNodeLogs(dir: string): void {
  const logDir = process.env.EOS_ROLLUP_TEST_LOG_DIR;
  if (!logDir) return;
  mkdirSync(logDir, { recursive: true });
  for (const node of clusterNodeDirs(dir)) {
    const serverLog = join(dir, node, 'server.log');
    if (existsSync(serverLog)) cpSync(serverLog, join(logDir, `${basename(dir)}-${node}-server.log`));
  }
}
