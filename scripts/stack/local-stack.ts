/**
 * The local test stack: one Apache Kafka broker (KRaft, combined mode) and one Apicurio Registry, both on
 * loopback, assembled from Maven Central by stack/pom.xml. `up` is idempotent and writes the addresses to
 * .stack/env; `down` stops only the processes `up` recorded, by pid, and waits until their ports are free.
 * `startBroker` runs one more such broker, private to a caller (a test that kills or restarts it), in its own
 * directory and on its own ports, built from the same configuration, marker, readiness check and warm-up, and
 * optionally with SASL (SCRAM, PLAIN) and TLS listeners beside the PLAINTEXT one (broker-security.ts).
 * `up(log, 3)` and `startCluster` run three nodes of one replicated cluster instead (cluster.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import {
  createTlsMaterial,
  extraListeners,
  scramFormatArguments,
  securityProperties,
  type BrokerSecurity,
  type ListenerName,
} from './broker-security.js';
import {
  CLUSTER_PROPERTIES,
  clusterVoters,
  dedicatedControllerVoters,
  quorumVoters,
  type ClusterVoter,
} from './cluster.js';
import { findJava, type JavaRuntime } from './java.js';
import { stackPaths, stackVersions, type StackPaths } from './paths.js';

export interface StackAddresses {
  brokers: string;
  registryUrl: string;
}

interface ProcessRecord {
  pid: number;
  ports: number[];
}

interface StackState {
  root: string;
  kafka: ProcessRecord;
  /** Every node of a three-node stack (`kafka` is the first); absent for the one-broker stack. */
  kafkaNodes?: ProcessRecord[];
  registry: ProcessRecord;
  addresses: StackAddresses;
  startedAtMs: number;
}

/** Marks our JVMs so `down` never signals a recycled pid that belongs to someone else. */
const MARKER_PROPERTY = '-Deos.rollup.stack=';

type Log = (line: string) => void;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `marker`: the value of MARKER_PROPERTY, the repository root for the shared stack. */
function isOurProcess(pid: number, marker: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(`${MARKER_PROPERTY}${marker}`);
  } catch {
    return isAlive(pid);
  }
}

async function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function readState(paths: StackPaths): StackState | undefined {
  if (!existsSync(paths.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(paths.stateFile, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/** Lays out Kafka and Apicurio under .stack/dist with Maven, unless they are there already. */
export function ensureAssembled(paths: StackPaths, log: Log): void {
  const kafkaReady = existsSync(join(paths.kafkaLibs, `kafka_2.13-${stackVersions(paths.root).kafka}.jar`));
  const apicurioReady = existsSync(join(paths.apicurioDir, 'quarkus-run.jar'));
  if (kafkaReady && apicurioReady) return;
  log('assembling Kafka and Apicurio Registry from Maven Central (mvn -f stack/pom.xml package)…');
  execFileSync('mvn', ['-q', '-B', '-f', join(paths.root, 'stack', 'pom.xml'), 'package'], {
    stdio: 'inherit',
  });
}

/** The client listeners of a broker, PLAINTEXT first, each with its port. */
type ClientListeners = ReadonlyMap<ListenerName, number>;

/** A node of a three-node cluster: its id and the controller quorum it votes in, or follows (cluster.ts). */
export interface ClusterMember {
  nodeId: number;
  voters: readonly ClusterVoter[];
  /** Absent: a combined broker and controller. */
  role?: 'broker' | 'controller';
}

export function brokerProperties(
  dataDir: string,
  listeners: ClientListeners,
  controllerPort: number,
  extraProperties: Record<string, string> = {},
  member?: ClusterMember,
): string {
  const clients = [...listeners].map(([name, port]) => `${name}://127.0.0.1:${port}`);
  // Every listener name here is also its security protocol.
  const protocols = [...listeners.keys()].map((name) => `${name}:${name}`);
  const role = member?.role;
  const controller = `CONTROLLER://127.0.0.1:${controllerPort}`;
  // A dedicated controller has only its controller listener; a dedicated broker reaches the quorum, listens on none.
  const nodeListeners =
    role === 'controller' ? [controller] : role === 'broker' ? clients : [...clients, controller];
  const lines = [
    `process.roles=${role ?? 'broker,controller'}`,
    `node.id=${member?.nodeId ?? 1}`,
    member
      ? `controller.quorum.voters=${quorumVoters(member.voters)}`
      : `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=${nodeListeners.join(',')}`,
    ...(role === 'controller' ? [] : [`advertised.listeners=${clients.join(',')}`]),
    'controller.listener.names=CONTROLLER',
    ...(role === 'controller' ? [] : ['inter.broker.listener.name=PLAINTEXT']),
    `listener.security.protocol.map=${[...protocols, 'CONTROLLER:PLAINTEXT'].join(',')}`,
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'auto.create.topics.enable=false',
    // One broker: every internal log has one replica, or transactions and groups never become available.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Crash tests rely on short session timeouts to detect a killed member quickly.
    'group.min.session.timeout.ms=500',
    // Abort timed-out transactions promptly so transaction-timeout tests need not wait the default 10 s.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms=1000',
    'log.cleaner.backoff.ms=1000',
    'log.segment.delete.delay.ms=1000',
  ];
  // Extra properties replace a default of the same name in place, or are appended in the order given.
  const extra = new Map(Object.entries(extraProperties));
  const merged = lines.map((line) => {
    const name = line.slice(0, line.indexOf('='));
    const value = extra.get(name);
    if (value === undefined) return line;
    extra.delete(name);
    return `${name}=${value}`;
  });
  for (const [name, value] of extra) merged.push(`${name}=${value}`);
  return [...merged, ''].join('\n');
}

const LOG4J2_PROPERTIES = [
  'status = warn',
  'appender.console.type = Console',
  'appender.console.name = STDOUT',
  'appender.console.layout.type = PatternLayout',
  'appender.console.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = INFO',
  'rootLogger.appenderRef.stdout.ref = STDOUT',
  'logger.request.name = kafka.request.logger',
  'logger.request.level = WARN',
  'logger.controller.name = org.apache.kafka.controller',
  'logger.controller.level = WARN',
  '',
].join('\n');

/** One broker's files and command line: everything needed to start it, and to start it again on the same data. */
interface BrokerLayout {
  java: JavaRuntime;
  /** JVM arguments of `kafka.Kafka`, the marker included. */
  args: string[];
  logFile: string;
  port: number;
  controllerPort: number;
  listeners: ClientListeners;
  /** With TLS: the PEM file of the CA that signed the broker's certificate. */
  caFile: string | undefined;
}

/**
 * A KRaft cluster id: 16 random bytes in URL-safe base64 without padding. About one in 64 would start with '-',
 * which command-line parsers take for an option; Kafka's own Uuid.randomUuid() draws again then, and so does this.
 */
export function newClusterId(draw: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = draw().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Writes a broker's configuration under `dir` (data in `dir`/data) and formats its storage as a new standalone
 * KRaft cluster. `marker` becomes the value of MARKER_PROPERTY on its JVMs. `security` adds SASL and TLS
 * listeners on `securityPorts` (one per listener, in `extraListeners` order) and SCRAM credentials at format.
 */
function prepareBroker(
  paths: StackPaths,
  dir: string,
  port: number,
  controllerPort: number,
  marker: string,
  extraProperties: Record<string, string> = {},
  security: BrokerSecurity = {},
  securityPorts: readonly number[] = [],
  cluster?: ClusterMember & { clusterId: string },
): BrokerLayout {
  const java = findJava(17);
  const propertiesFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  const added = extraListeners(security);
  const listeners: ClientListeners = new Map<ListenerName, number>([
    ['PLAINTEXT', port],
    ...added.map((name, index): [ListenerName, number] => {
      const listenerPort = securityPorts[index];
      if (listenerPort === undefined) throw new Error(`no port for the ${name} listener`);
      return [name, listenerPort];
    }),
  ]);
  const tls = security.tls === true ? createTlsMaterial(join(dir, 'tls'), java.bin) : undefined;
  // The caller's entries win, as everywhere else: a test may override a security default on purpose.
  const properties = { ...securityProperties(security, tls), ...extraProperties };
  writeFileSync(
    propertiesFile,
    brokerProperties(join(dir, 'data'), listeners, controllerPort, properties, cluster),
  );
  writeFileSync(log4jFile, LOG4J2_PROPERTIES);

  const classpath = `${paths.kafkaLibs}/*`;
  const jvmCommon = [`-Dlog4j2.configurationFile=${log4jFile}`, `${MARKER_PROPERTY}${marker}`];
  const clusterId = cluster?.clusterId ?? newClusterId();
  execFileSync(
    java.bin,
    [
      ...jvmCommon,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      // A static quorum (controller.quorum.voters) is formatted without naming its controllers.
      ...(cluster ? [] : ['--standalone']),
      // Joined to its option: a value is never read as an option, whatever it starts with.
      `--cluster-id=${clusterId}`,
      '-c',
      propertiesFile,
      ...scramFormatArguments(security),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return {
    java,
    args: [
      '-Xms256m',
      '-Xmx1g',
      '-XX:+UseG1GC',
      ...jvmCommon,
      '-cp',
      classpath,
      'kafka.Kafka',
      propertiesFile,
    ],
    logFile: join(dir, 'server.log'),
    port,
    controllerPort,
    listeners,
    caFile: tls?.caFile,
  };
}

/**
 * Starts a process whose output goes to `logFile`. Detached (its own process group, not waited for), it outlives
 * the caller, like the shared stack; attached, it shares the caller's process group and dies with a Ctrl-C.
 */
function spawnLogged(
  bin: string,
  args: string[],
  cwd: string,
  logFile: string,
  detached = true,
): ChildProcess & { pid: number } {
  const out = openSync(logFile, 'a');
  const child = spawn(bin, args, { cwd, detached, stdio: ['ignore', out, out] });
  closeSync(out);
  // A failed spawn also emits 'error' a tick later; the throw below reports it, an unheard event would crash us.
  child.once('error', () => undefined);
  child.unref();
  if (child.pid === undefined)
    throw new Error(`failed to start ${bin} in ${cwd}${existsSync(cwd) ? '' : ' (that directory is gone)'}`);
  return child as ChildProcess & { pid: number };
}

function spawnDetached(bin: string, args: string[], cwd: string, logFile: string): number {
  return spawnLogged(bin, args, cwd, logFile).pid;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  pid: number,
  logs = '.stack/run logs',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`${what} exited during start-up; see ${logs}`);
    if (await probe()) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

/** Ready means the protocol answers: a metadata round trip, not a TCP connect. */
async function kafkaAnswers(brokers: string, expectedBrokers = 1): Promise<boolean> {
  const admin = new Kafka({
    brokers: brokers.split(','),
    clientId: 'eos-rollup-stack-probe',
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= expectedBrokers;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function registryAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Creates the group-offsets and transaction-state logs now, with one committed transaction that also sends
 * offsets, so the first test does not race their creation (kafkajs does not retry NOT_COORDINATOR inside
 * sendOffsets).
 */
async function warmUpTransactions(brokers: string, replicationFactor = 1): Promise<void> {
  const kafka = new Kafka({
    brokers: brokers.split(','),
    clientId: 'eos-rollup-stack-warmup',
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const topic = '__eos_rollup_stack_warmup';
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor }],
        waitForLeaders: true,
      });
    }
    for (let attempt = 1; ; attempt++) {
      const producer = kafka.producer({
        transactionalId: 'eos-rollup-stack-warmup',
        maxInFlightRequests: 1,
        idempotent: true,
      });
      try {
        await producer.connect();
        const transaction = await producer.transaction();
        await transaction.send({ topic, messages: [{ value: 'warm-up' }] });
        await transaction.sendOffsets({
          consumerGroupId: 'eos-rollup-stack-warmup',
          topics: [{ topic, partitions: [{ partition: 0, offset: '0' }] }],
        });
        await transaction.commit();
        return;
      } catch (error) {
        if (attempt >= 30) throw error;
        await sleep(500);
      } finally {
        await producer.disconnect().catch(() => undefined);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

export function readAddresses(paths: StackPaths = stackPaths()): StackAddresses | undefined {
  return readState(paths)?.addresses;
}

/** Running, ours, and answering the protocol. */
export async function isHealthy(paths: StackPaths = stackPaths()): Promise<boolean> {
  const state = readState(paths);
  if (!state) return false;
  const nodes = kafkaNodes(state);
  if (
    !nodes.every((node) => isOurProcess(node.pid, paths.root)) ||
    !isOurProcess(state.registry.pid, paths.root)
  )
    return false;
  return (
    (await kafkaAnswers(state.addresses.brokers, nodes.length)) &&
    (await registryAnswers(state.addresses.registryUrl))
  );
}

export interface UpResult {
  addresses: StackAddresses;
  startedNow: boolean;
  elapsedMs: number;
}

function kafkaNodes(state: StackState): ProcessRecord[] {
  return state.kafkaNodes ?? [state.kafka];
}

/**
 * Three combined broker+controller nodes of one cluster (a static three-voter quorum), each in `runDir`/kafka-N,
 * detached like the one broker. Combined rather than one controller and three brokers: any one JVM may then be
 * killed, restarted or paused and the quorum (two of three) and every partition (two in-sync replicas) survive,
 * so a scenario never has to avoid a node that would be a single point of failure.
 */
async function spawnStackCluster(paths: StackPaths): Promise<{ nodes: ProcessRecord[]; brokers: string }> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const controllerPorts = [await freePort(), await freePort(), await freePort()];
  const voters = clusterVoters(controllerPorts);
  const clusterId = newClusterId();
  const nodes = voters.map((voter, index) => {
    const dir = join(paths.runDir, `kafka-${voter.nodeId}`);
    mkdirSync(join(dir, 'data'), { recursive: true });
    const port = ports[index] ?? 0;
    const layout = prepareBroker(
      paths,
      dir,
      port,
      voter.controllerPort,
      paths.root,
      CLUSTER_PROPERTIES,
      {},
      [],
      {
        nodeId: voter.nodeId,
        voters,
        clusterId,
      },
    );
    return {
      pid: spawnDetached(layout.java.bin, layout.args, dir, layout.logFile),
      ports: [port, voter.controllerPort],
    };
  });
  return { nodes, brokers: ports.map((port) => `127.0.0.1:${port}`).join(',') };
}

export async function up(log: Log = console.log, brokerCount: 1 | 3 = 1): Promise<UpResult> {
  const paths = stackPaths();
  const started = Date.now();
  const current = readState(paths);
  if (current && (await isHealthy(paths))) {
    log(`stack already running: ${current.addresses.brokers}, ${current.addresses.registryUrl}`);
    return { addresses: current.addresses, startedNow: false, elapsedMs: Date.now() - started };
  }
  if (current) {
    log('found a stale or unhealthy stack; stopping what is left of it');
    await down(() => undefined);
  }
  ensureAssembled(paths, log);

  rmSync(paths.runDir, { recursive: true, force: true });
  const kafkaDir = join(paths.runDir, 'kafka');
  const registryDir = join(paths.runDir, 'registry');
  mkdirSync(join(kafkaDir, 'data'), { recursive: true });
  mkdirSync(registryDir, { recursive: true });

  const registryJava = findJava(21, 'APICURIO_JAVA_HOME');
  const [port, controllerPort, registryPort, managementPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  let kafkaPid: number;
  let cluster: { nodes: ProcessRecord[]; brokers: string } | undefined;
  if (brokerCount === 1) {
    const kafka = prepareBroker(paths, kafkaDir, port, controllerPort, paths.root);
    kafkaPid = spawnDetached(kafka.java.bin, kafka.args, kafkaDir, kafka.logFile);
  } else {
    rmSync(kafkaDir, { recursive: true, force: true });
    cluster = await spawnStackCluster(paths);
    kafkaPid = cluster.nodes[0]?.pid ?? 0;
  }
  const registryPid = spawnDetached(
    registryJava.bin,
    [
      '-Xmx512m',
      `${MARKER_PROPERTY}${paths.root}`,
      `-Dquarkus.http.port=${registryPort}`,
      '-Dquarkus.http.host=127.0.0.1',
      // Quarkus also opens a management interface (default 0.0.0.0:9000): keep it on loopback and a free port,
      // so two stacks (or anything else on 9000) never collide.
      `-Dquarkus.management.port=${managementPort}`,
      '-Dquarkus.management.host=127.0.0.1',
      '-Dquarkus.log.level=WARN',
      '-jar',
      join(paths.apicurioDir, 'quarkus-run.jar'),
    ],
    registryDir,
    join(registryDir, 'registry.log'),
  );
  const addresses: StackAddresses = {
    brokers: cluster?.brokers ?? `127.0.0.1:${port}`,
    registryUrl: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
  };
  const state: StackState = {
    root: paths.root,
    kafka: cluster?.nodes[0] ?? { pid: kafkaPid, ports: [port, controllerPort] },
    ...(cluster ? { kafkaNodes: cluster.nodes } : {}),
    registry: { pid: registryPid, ports: [registryPort, managementPort] },
    addresses,
    startedAtMs: started,
  };
  writeFileSync(paths.stateFile, JSON.stringify(state, null, 2));
  try {
    await Promise.all([
      ...(cluster?.nodes ?? [{ pid: kafkaPid, ports: [port] }]).map((node, index) =>
        waitFor(
          cluster ? `Kafka node ${index + 1}` : 'Kafka',
          cluster ? 180_000 : 90_000,
          () => kafkaAnswers(`127.0.0.1:${node.ports[0] ?? 0}`, cluster ? 3 : 1),
          node.pid,
        ),
      ),
      waitFor('Apicurio Registry', 120_000, () => registryAnswers(addresses.registryUrl), registryPid),
    ]);
    await warmUpTransactions(addresses.brokers, brokerCount);
  } catch (error) {
    await down(() => undefined);
    throw error;
  }
  writeFileSync(
    paths.envFile,
    `KAFKA_BROKERS=${addresses.brokers}\nSCHEMA_REGISTRY_URL=${addresses.registryUrl}\n`,
  );
  const elapsedMs = Date.now() - started;
  log(
    `stack up in ${elapsedMs} ms (Kafka ${stackVersions(paths.root).kafka} at ${addresses.brokers}, Apicurio ${stackVersions(paths.root).apicurio} at ${addresses.registryUrl})`,
  );
  return { addresses, startedNow: true, elapsedMs };
}

async function stopProcess(
  name: string,
  record: ProcessRecord,
  root: string,
  timeoutMs: number,
  log: Log,
): Promise<void> {
  if (isOurProcess(record.pid, root)) {
    process.kill(record.pid, 'SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (isAlive(record.pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(record.pid)) {
      log(`${name} (pid ${record.pid}) ignored SIGTERM for ${timeoutMs} ms; sending SIGKILL`);
      process.kill(record.pid, 'SIGKILL');
      while (isAlive(record.pid)) await sleep(50);
    }
  }
  for (const port of record.ports) {
    const deadline = Date.now() + 10_000;
    while ((await portAcceptsConnections(port)) && Date.now() < deadline) await sleep(100);
    if (await portAcceptsConnections(port)) throw new Error(`${name} port ${port} still accepts connections`);
  }
}

export async function down(log: Log = console.log, timeoutMs = 20_000): Promise<void> {
  const paths = stackPaths();
  const state = readState(paths);
  if (!state) {
    log('stack not running (no .stack/run/state.json)');
    rmSync(paths.envFile, { force: true });
    return;
  }
  const started = Date.now();
  const nodes = kafkaNodes(state);
  await Promise.all([
    ...nodes.map((node, index) =>
      stopProcess(nodes.length > 1 ? `Kafka node ${index + 1}` : 'Kafka', node, paths.root, timeoutMs, log),
    ),
    stopProcess('Apicurio Registry', state.registry, paths.root, timeoutMs, log),
  ]);
  keepLogs(paths);
  rmSync(paths.runDir, { recursive: true, force: true });
  rmSync(paths.envFile, { force: true });
  log(`stack down in ${Date.now() - started} ms`);
}

/** Logs outlive the run for post-mortems; data does not. */
function keepLogs(paths: StackPaths): void {
  rmSync(paths.logsDir, { recursive: true, force: true });
  mkdirSync(paths.logsDir, { recursive: true });
  const services = existsSync(paths.runDir) ? readdirSync(paths.runDir) : [];
  for (const service of services.filter((name) => name === 'registry' || name.startsWith('kafka'))) {
    const dir = join(paths.runDir, service);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.log'))) {
      cpSync(join(dir, file), join(paths.logsDir, `${service}-${file}`));
    }
  }
}

export async function status(log: Log = console.log): Promise<boolean> {
  const paths = stackPaths();
  const state = readState(paths);
  if (!state) {
    log('stack not running');
    return false;
  }
  const healthy = await isHealthy(paths);
  log(
    `${healthy ? 'healthy' : 'UNHEALTHY'}: Kafka pid ${state.kafka.pid} at ${state.addresses.brokers}, ` +
      `Apicurio pid ${state.registry.pid} at ${state.addresses.registryUrl}`,
  );
  if (state.kafkaNodes) {
    for (const [index, node] of state.kafkaNodes.entries()) {
      const address = `127.0.0.1:${node.ports[0] ?? 0}`;
      const alive = isOurProcess(node.pid, paths.root);
      const answers = alive && (await kafkaAnswers(address));
      log(
        `  node ${index + 1}: pid ${node.pid} at ${address}: ${answers ? 'answers' : alive ? 'not answering' : 'not running'}`,
      );
    }
  }
  return healthy;
}

export interface BrokerOptions {
  /** The broker's own directory, new or empty: configuration, data (`dir`/data) and server.log go there. */
  dir: string;
  /** server.properties entries that replace a default of the same name or are added to them. */
  extraProperties?: Record<string, string>;
  /**
   * The client listener's port; a free one unless given. A caller that puts a proxy in front of the broker picks
   * it, so it can point the proxy there and advertise the proxy's port through `extraProperties`.
   */
  port?: number;
  /** SASL and TLS listeners beside the PLAINTEXT one, each on a free port; none unless given. */
  security?: BrokerSecurity;
  /** How long a start or restart may take to answer the protocol; 90 s unless given. */
  readyTimeoutMs?: number;
  log?: Log;
}

export interface BrokerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A broker started by `startBroker`: the caller's own, to kill, restart and stop. */
export interface BrokerHandle {
  /** Its bootstrap address, `127.0.0.1:<port>` (the PLAINTEXT listener); the same after a restart. */
  readonly brokers: string;
  /** The bootstrap address of each client listener: PLAINTEXT, and those `security` added. */
  readonly listeners: Readonly<Partial<Record<ListenerName, string>>>;
  /** With `security.tls`: the PEM file of the CA that signed the broker's certificate (KAFKA_SSL_CA_FILE). */
  readonly caFile: string | undefined;
  readonly dir: string;
  readonly logFile: string;
  /** The client and controller ports, then those of the added listeners; the same after a restart. */
  readonly ports: readonly number[];
  /** The pid of the current (or last) JVM: a restart changes it. */
  readonly pid: number;
  readonly isRunning: boolean;
  /** Settles when the current JVM exits, however it ends. */
  readonly exited: Promise<BrokerExit>;
  /** Sends `signal` (SIGKILL unless given) and waits until the JVM has exited and its ports are closed. */
  kill(signal?: NodeJS.Signals): Promise<BrokerExit>;
  /**
   * Starts the broker again on the same ports, data directory and configuration (no format, no warm-up) and
   * waits until it answers the protocol. Throws while it is still running.
   */
  restart(): Promise<void>;
  /** SIGTERM, SIGKILL after `timeoutMs`; then the ports are free. Idempotent. Leaves `dir` in place. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGSTOP: the JVM freezes with its sockets open, as in a long GC pause or a hung host. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
}

async function waitUntilClosed(name: string, ports: readonly number[], timeoutMs = 10_000): Promise<void> {
  for (const port of ports) {
    const deadline = Date.now() + timeoutMs;
    while ((await portAcceptsConnections(port)) && Date.now() < deadline) await sleep(100);
    if (await portAcceptsConnections(port)) throw new Error(`${name} port ${port} still accepts connections`);
  }
}

const ENDING_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Starts a single-node Kafka of its own in `options.dir`, on free ports, with the shared stack's configuration
 * (plus `extraProperties`), marker, protocol readiness check and warm-up transaction. It is a child of the calling
 * process (not detached: a Ctrl-C reaches it too), and killed when the caller exits, or is ended by SIGINT,
 * SIGTERM or SIGHUP, without having stopped it. The marker's value is the directory, so it is never mistaken for
 * the shared stack's broker.
 */
export async function startBroker(options: BrokerOptions): Promise<BrokerHandle> {
  const log = options.log ?? (() => undefined);
  const paths = stackPaths();
  ensureAssembled(paths, log);
  const dir = resolve(options.dir);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const security = options.security ?? {};
  const securityPorts: number[] = [];
  for (const _ of extraListeners(security)) securityPorts.push(await freePort());
  const layout = prepareBroker(
    paths,
    dir,
    options.port ?? (await freePort()),
    await freePort(),
    dir,
    options.extraProperties ?? {},
    security,
    securityPorts,
  );
  const handle = superviseBroker(layout, dir, `private Kafka at 127.0.0.1:${layout.port}`, {
    readyTimeoutMs,
    log,
    extraPorts: securityPorts,
  });
  await handle.restart();
  try {
    await warmUpTransactions(handle.brokers);
  } catch (error) {
    await handle.stop().catch(() => undefined);
    throw error;
  }
  return handle;
}

/**
 * The handle of one broker JVM built from `layout`, not started yet: `restart()` starts it the first time too.
 * It is a child of the calling process and killed when the caller exits, or is ended by SIGINT, SIGTERM or
 * SIGHUP, without having stopped it.
 */
function superviseBroker(
  layout: BrokerLayout,
  dir: string,
  name: string,
  options: {
    readyTimeoutMs: number;
    log: Log;
    extraPorts: readonly number[];
    /** When the node is ready; by default, when it answers the Kafka protocol as a broker. */
    answers?: () => Promise<boolean>;
  },
): BrokerHandle {
  const { readyTimeoutMs, log } = options;
  const brokers = `127.0.0.1:${layout.port}`;
  const ports = [layout.port, layout.controllerPort, ...options.extraPorts] as const;
  const listeners = Object.fromEntries(
    [...layout.listeners].map(([listener, port]) => [listener, `127.0.0.1:${port}`]),
  );

  let child: ChildProcess & { pid: number };
  let exited: Promise<BrokerExit> = Promise.resolve({ code: null, signal: null });
  let running = false;
  // The broker must not outlive its caller: killed when the caller exits, or is ended by a signal (a cancelled
  // test run), without having stopped it.
  const killOnExit = () => {
    if (!running) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killOnExit();
    // Raised again without this listener: the default action (or signal-exit, which testcontainers installs and
    // which stands aside while any other listener is there) then ends the process as if we had never listened.
    detachHooks();
    process.kill(process.pid, signal);
  };
  const detachHooks = () => {
    process.removeListener('exit', killOnExit);
    for (const signal of ENDING_SIGNALS) process.removeListener(signal, onSignal);
  };
  const attachHooks = () => {
    detachHooks();
    process.on('exit', killOnExit);
    for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  };
  const launch = () => {
    child = spawnLogged(layout.java.bin, layout.args, dir, layout.logFile, false);
    running = true;
    attachHooks();
    exited = new Promise<BrokerExit>((resolveExit) => {
      child.once('exit', (code, signal) => {
        running = false;
        resolveExit({ code, signal });
      });
    });
  };
  const waitReady = async () => {
    const started = Date.now();
    try {
      await waitFor(
        name,
        readyTimeoutMs,
        options.answers ?? (() => kafkaAnswers(brokers)),
        child.pid,
        layout.logFile,
      );
    } catch (error) {
      await handle.stop().catch(() => undefined);
      throw error;
    }
    log(`${name} (pid ${child.pid}) answers after ${Date.now() - started} ms`);
  };

  const handle: BrokerHandle = {
    brokers,
    listeners,
    caFile: layout.caFile,
    dir,
    logFile: layout.logFile,
    ports,
    get pid() {
      return child.pid;
    },
    get isRunning() {
      return running;
    },
    get exited() {
      return exited;
    },
    async kill(signal = 'SIGKILL') {
      // The child is unref'd: without ref() an otherwise idle caller would exit before its 'exit' event.
      child.ref();
      if (running) child.kill(signal);
      const exit = await exited;
      await waitUntilClosed(name, ports);
      return exit;
    },
    async restart() {
      if (running) throw new Error(`${name} (pid ${child.pid}) is still running; kill or stop it first`);
      launch();
      await waitReady();
    },
    async stop(timeoutMs = 20_000) {
      detachHooks();
      child.ref();
      if (running) {
        child.kill('SIGTERM');
        const cancel = new AbortController();
        const timer = sleep(timeoutMs, 'timeout' as const, { signal: cancel.signal }).catch(
          () => 'cancelled',
        );
        const first = await Promise.race([exited, timer]);
        cancel.abort();
        if (first === 'timeout') {
          log(`${name} (pid ${child.pid}) ignored SIGTERM for ${timeoutMs} ms; sending SIGKILL`);
          child.kill('SIGKILL');
        }
        await exited;
      }
      await waitUntilClosed(name, ports);
    },
    pause() {
      if (running) child.kill('SIGSTOP');
    },
    resume() {
      if (running) child.kill('SIGCONT');
    },
  };
  return handle;
}

export interface ClusterOptions {
  /** The cluster's own directory, new or empty: node-N/ for each node (configuration, data, server.log). */
  dir: string;
  /** server.properties entries on top of the stack's and the cluster's replication settings, on every node. */
  extraProperties?: Record<string, string>;
  /** How long a start or restart of one node may take to answer the protocol; 180 s unless given. */
  readyTimeoutMs?: number;
  /**
   * Three controller-only nodes (ids 4-6) beside three broker-only nodes, instead of three combined nodes: a
   * broker's death then never takes the active controller with it (docs/testing.md, "Three brokers").
   */
  dedicatedControllers?: boolean;
  log?: Log;
}

/** Three nodes started by `startCluster`: the caller's own. */
export interface ClusterHandle {
  /** The bootstrap list, every node's PLAINTEXT address, node 1 first. */
  readonly brokers: string;
  /** Node N is `nodes[N - 1]`; Kafka's node ids are 1, 2, 3. */
  readonly nodes: readonly BrokerHandle[];
  /** With `dedicatedControllers`, the controller-only nodes (ids 4-6); otherwise none. */
  readonly controllers: readonly BrokerHandle[];
  /** How long the three JVMs took from spawn until every one answered, and the warm-up transaction committed. */
  readonly startupMs: number;
  /** Stops every node (SIGTERM, then SIGKILL). */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Starts a three-broker cluster of the caller's own (combined broker+controller nodes, or three brokers beside
 * three dedicated controllers with `dedicatedControllers`; a static three-voter quorum; replication factor 3 with
 * two in sync, nodes fenced after 5 s: `CLUSTER_PROPERTIES`) under `options.dir`, on free ports, each node a child
 * of the caller as with `startBroker`. The JVMs start together: none can answer before a quorum has formed.
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterHandle> {
  const log = options.log ?? (() => undefined);
  const paths = stackPaths();
  ensureAssembled(paths, log);
  const dir = resolve(options.dir);
  const started = Date.now();
  // Seen twice in nine rounds on a busy machine: a node exiting during start-up, and a spawn that failed. Six ports
  // stay free only until three slow JVMs bind them, so another process may take one first. A failed start is
  // retried from scratch on new ports.
  const attempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      const cluster = await startClusterOnce(paths, dir, options, log);
      return { ...cluster, startupMs: Date.now() - started };
    } catch (error) {
      const nodeDirs = clusterNodeDirs(dir);
      const tails = nodeDirs.map((name) => `${name}: ${logTail(join(dir, name, 'server.log'))}`);
      if (attempt >= attempts)
        throw new Error(
          `${error instanceof Error ? error.message : String(error)} (attempt ${attempt} of ${attempts})\n${tails.join('\n')}`,
        );
      log(
        `cluster start-up attempt ${attempt} failed, retrying on new ports: ${String(error)}\n${tails.join('\n')}`,
      );
      for (const name of nodeDirs) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

/** The node directories `startCluster` made under `dir` (node-N for brokers, controller-N for controllers). */
export function clusterNodeDirs(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => /^(node|controller)-\d+$/.test(name)) : [];
}

function logTail(file: string, lines = 5): string {
  if (!existsSync(file)) return '(no server.log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n  ');
}

async function startClusterOnce(
  paths: StackPaths,
  dir: string,
  options: ClusterOptions,
  log: Log,
): Promise<Omit<ClusterHandle, 'startupMs'>> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const controllerPorts = [await freePort(), await freePort(), await freePort()];
  const dedicated = options.dedicatedControllers === true;
  const voters = dedicated ? dedicatedControllerVoters(controllerPorts) : clusterVoters(controllerPorts);
  const clusterId = newClusterId();
  const properties = { ...CLUSTER_PROPERTIES, ...options.extraProperties };
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  // A dedicated broker listens on no controller port: it gets one of its own that stays closed (a node's stop waits
  // for each of its ports to close, so it must not be a controller's).
  const brokerControllerPorts = dedicated
    ? [await freePort(), await freePort(), await freePort()]
    : controllerPorts;
  const nodes = ports.map((port, index) => {
    const nodeId = index + 1;
    const nodeDir = join(dir, `node-${nodeId}`);
    mkdirSync(join(nodeDir, 'data'), { recursive: true });
    const layout = prepareBroker(
      paths,
      nodeDir,
      port,
      brokerControllerPorts[index] ?? 0,
      nodeDir,
      properties,
      {},
      [],
      { nodeId, voters, clusterId, ...(dedicated ? { role: 'broker' as const } : {}) },
    );
    return superviseBroker(layout, nodeDir, `node ${nodeId} at 127.0.0.1:${port}`, {
      readyTimeoutMs,
      log,
      extraPorts: [],
    });
  });
  const controllers = dedicated
    ? await Promise.all(
        voters.map(async (voter) => {
          const nodeDir = join(dir, `controller-${voter.nodeId}`);
          mkdirSync(join(nodeDir, 'data'), { recursive: true });
          const layout = prepareBroker(
            paths,
            nodeDir,
            await freePort(),
            voter.controllerPort,
            nodeDir,
            properties,
            {},
            [],
            { nodeId: voter.nodeId, voters, clusterId, role: 'controller' },
          );
          return superviseBroker(
            layout,
            nodeDir,
            `controller ${voter.nodeId} at 127.0.0.1:${voter.controllerPort}`,
            // No client listener to ask: listening on its controller port is all it shows before the brokers do.
            {
              readyTimeoutMs,
              log,
              extraPorts: [],
              answers: () => portAcceptsConnections(voter.controllerPort),
            },
          );
        }),
      )
    : [];
  const brokers = nodes.map((node) => node.brokers).join(',');
  const stop = async (timeoutMs?: number) => {
    await Promise.all([...nodes, ...controllers].map((node) => node.stop(timeoutMs)));
  };
  try {
    await Promise.all([...controllers, ...nodes].map((node) => node.restart()));
    await warmUpTransactions(brokers, nodes.length);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { brokers, nodes, controllers, stop };
}
