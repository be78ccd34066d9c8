/**
 * The strikes of the cluster scenarios (cluster-scenario.ts `runClusterFault`): each picks its node by asking
 * Kafka, strikes it while a task is held inside its transaction, proves the strike landed (the JVM died by
 * SIGKILL, or is stopped; the role moved to another node), lets the task go on, and brings the node back.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { withAdmin } from './kafka.js';
import { taskTransactionalId, waitFullyReplicated, type StrikeContext } from './cluster-scenario.js';

/** How long a killed node stays down while the load goes on: the stage must work on two nodes meanwhile. */
const DOWN_MS = 8000;

/** Asks `read` until it answers something other than `victim`: the role has moved. */
async function movedFrom(victim: number, read: () => Promise<number>, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const now = await read();
      if (now !== victim) return now;
      last = `still node ${now}`;
    } catch (error) {
      last = error;
    }
    await sleep(500);
  }
  throw new Error(`the role did not move from node ${victim} within ${timeoutMs} ms: ${String(last)}`);
}

const TOOK_LEADERSHIPS =
  /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\] INFO \[Broker id=\d+\] Transitioning \d+ partition\(s\) to local leaders/;

/** Every line the surviving nodes have logged so far: read once per strike, searched for each fact. */
function survivorsLog(context: StrikeContext, victim: number): string[] {
  return [1, 2, 3]
    .filter((id) => id !== victim)
    .flatMap((id) => readFileSync(context.suite.node(id).logFile, 'utf8').split('\n'));
}

/** The first time after `since` that a line matches `pattern` (its timestamp in the first three groups). */
function firstAfter(lines: readonly string[], since: number, pattern: RegExp): number | undefined {
  const times = lines
    .flatMap((line) => {
      const match = pattern.exec(line);
      // The JVM logs local time, as Date reads a timestamp without a zone.
      return match ? [new Date(`${match[1]}T${match[2]}.${match[3]}`).getTime()] : [];
    })
    .filter((time) => time >= since);
  return times.length > 0 ? Math.min(...times) : undefined;
}

const BECAME_RAFT_LEADER =
  /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\] INFO \[RaftManager id=\d+\] Completed transition to Leader/;

/**
 * `; Kafka moved its leaderships N ms after the strike`, from the survivors' own logs: the first line after the
 * strike in which a surviving node takes over partitions (the controller fenced the struck node, after
 * broker.session.timeout.ms, plus an election when it was the active controller). That is Kafka's part of a
 * stall; the rest is the stage's. Nothing when no survivor logged it (yet). Then whether the struck node was the
 * active controller (a survivor won a Raft election after the strike): its death adds an election, and the new
 * controller times the broker sessions afresh, so Kafka's part is longer.
 */
function leadershipMove(context: StrikeContext, victim: number, since: number): string {
  const lines = survivorsLog(context, victim);
  const movedAt = firstAfter(lines, since, TOOK_LEADERSHIPS);
  const electedAt = firstAfter(lines, since, BECAME_RAFT_LEADER);
  const controller =
    electedAt === undefined
      ? '; it was not the active controller'
      : `; it was the active controller (a survivor won the election ${electedAt - since} ms after the strike)`;
  return movedAt === undefined
    ? controller
    : `; Kafka moved its leaderships ${movedAt - since} ms after the strike (the survivors' logs)${controller}`;
}

async function killAndRestart(
  context: StrikeContext,
  victim: number,
  role: string,
  readRole: () => Promise<number>,
): Promise<string> {
  const node = context.suite.node(victim);
  // From the signal on, not from the JVM's exit: the stall is not made shorter by how long the kill takes.
  const killed = node.kill('SIGKILL');
  const killedAt = context.struck();
  const exit = await killed;
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, `node ${victim} died by SIGKILL`);
  let successor: number;
  let movedAfterMs: number;
  let restartAt = killedAt;
  try {
    context.release();
    successor = await movedFrom(victim, readRole);
    movedAfterMs = Date.now() - killedAt;
    await sleep(Math.max(0, killedAt + DOWN_MS - Date.now()));
  } finally {
    // Back whatever happens: later tests of the file need all three nodes.
    restartAt = Date.now();
    if (!node.isRunning) await node.restart();
  }
  // When the role moved is Kafka's part of the stall (the controller fences a dead node after
  // broker.session.timeout.ms); the stall beyond it is the stage's.
  return `${role} node ${victim} SIGKILLed (held partition ${context.held.partition}), moved to node ${successor} ${movedAfterMs} ms after the kill (polled every 500 ms)${leadershipMove(context, victim, killedAt)}; down ${restartAt - killedAt} ms, restart took ${Date.now() - restartAt} ms`;
}

export async function killInputLeader(context: StrikeContext): Promise<string> {
  const { suite, names, held } = context;
  const read = () => suite.leaderOf(names.input, held.partition);
  return killAndRestart(context, await read(), `leader of ${names.input}-${held.partition}:`, read);
}

export async function killTransactionCoordinator(context: StrikeContext): Promise<string> {
  const { suite, names, held } = context;
  const transactionalId = taskTransactionalId(names, held.partition);
  const read = () => suite.transactionCoordinatorOf(transactionalId);
  return killAndRestart(context, await read(), `transaction coordinator of ${transactionalId}:`, read);
}

export async function killGroupCoordinator(context: StrikeContext): Promise<string> {
  const { suite, names } = context;
  const read = () => suite.groupCoordinatorOf(names.appId);
  return killAndRestart(context, await read(), `group coordinator of ${names.appId}:`, read);
}

/**
 * The node that is also the active controller: Kafka's slowest failover in a cluster of combined nodes, a Raft
 * election before the new controller fences the dead node (its broker sessions timed afresh from the election).
 */
export async function killActiveController(context: StrikeContext): Promise<string> {
  const read = () => context.suite.activeController();
  return killAndRestart(context, await read(), 'active controller:', read);
}

/**
 * Every node in turn, 1 to 3: a controlled shutdown (SIGTERM), a restart, and a wait until every replica of the
 * stage's topics and of the internal logs is in sync again before the next node goes.
 */
export async function rollAllNodes(context: StrikeContext): Promise<string> {
  const { suite, names } = context;
  const steps: string[] = [];
  for (const id of [1, 2, 3]) {
    const topics = await withAdmin(suite.kafka, (admin) => admin.listTopics());
    const watched = [
      names.input,
      names.output,
      names.changelog,
      names.dlq,
      '__transaction_state',
      '__consumer_offsets',
    ];
    await waitFullyReplicated(
      suite.kafka,
      watched.filter((topic) => topics.includes(topic)),
    );
    const node = suite.node(id);
    // The roll is one strike from its first stop on: the stall is measured from there, as a kill's from the kill.
    const stoppedAt = id === 1 ? context.struck() : Date.now();
    await node.stop();
    assert.equal(node.isRunning, false, `node ${id} stopped`);
    context.release();
    await node.restart();
    steps.push(`node ${id} ${Date.now() - stoppedAt} ms`);
  }
  return `rolled every node under load (stop to answering again: ${steps.join(', ')})`;
}

/**
 * Past the broker's session with the controller (broker.session.timeout.ms: 5 s on the stack's cluster, Kafka's
 * default 9 s), with a margin.
 */
const PAUSE_MS = 14_000;

/**
 * The transaction coordinator of the held task's id is frozen (SIGSTOP) past the broker session timeout, so the
 * controller fences it and its partitions move, while its sockets stay open and its clients hear nothing; the held
 * task is released during the pause; then SIGCONT.
 */
export async function pauseTransactionCoordinator(context: StrikeContext): Promise<string> {
  const { suite, names, held } = context;
  const transactionalId = taskTransactionalId(names, held.partition);
  const victim = await suite.transactionCoordinatorOf(transactionalId);
  const node = suite.node(victim);
  node.pause();
  const pausedAt = context.struck();
  // Resumed whatever happens: a node left frozen would break every later test of the file.
  try {
    const state = await processState(node.pid, 'T');
    assert.equal(state, 'T', `node ${victim} (pid ${node.pid}) is stopped`);
    context.release();
    await sleep(PAUSE_MS);
  } finally {
    node.resume();
  }
  return `transaction coordinator of ${transactionalId}: node ${victim} SIGSTOPped ${PAUSE_MS} ms (seen in state T), then SIGCONT${leadershipMove(context, victim, pausedAt)}`;
}

/** The state letter of `pid` in /proc once it is `expected`, or the last one read after 5 s (signals are async). */
async function processState(pid: number, expected: string): Promise<string | undefined> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2];
    if (state === expected || Date.now() > deadline) return state;
    await sleep(20);
  }
}
