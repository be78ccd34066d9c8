/**
 * What makes three local KRaft brokers one cluster: a static quorum of three voters (every node a combined broker
 * and controller, or three dedicated controllers beside three brokers) and replication settings under which one
 * broker may be lost, killed or paused without losing an acknowledged write or a committed transaction. Pure:
 * local-stack.ts writes and starts it.
 */

export interface ClusterVoter {
  nodeId: number;
  controllerPort: number;
}

/** `controller.quorum.voters`: id@host:port for every voter. */
export function quorumVoters(voters: readonly ClusterVoter[]): string {
  return voters.map((voter) => `${voter.nodeId}@127.0.0.1:${voter.controllerPort}`).join(',');
}

/**
 * Replicas everywhere, and acknowledgements from two of them: with one node down, writes (acks=all), transaction
 * markers and offset commits still reach two replicas, so a second failure loses nothing acknowledged. The
 * transaction-state and offsets logs need the same, or the coordinator of a transactional id or group on the lost
 * node would have no in-sync replica to move to.
 */
export const CLUSTER_REPLICATION: Readonly<Record<string, string>> = {
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'offsets.topic.replication.factor': '3',
  'transaction.state.log.replication.factor': '3',
  'transaction.state.log.min.isr': '2',
  'share.coordinator.state.topic.replication.factor': '3',
  'share.coordinator.state.topic.min.isr': '2',
};

/**
 * How soon the controller fences a node that stopped heartbeating, and so how soon its partitions and coordinators
 * move: most of what a broker's death costs every client. Kafka's default session (9 s) made a broker kill stall
 * the stage 9.5-12.3 s, and a kill of the node that is also the active controller always over 10 s: a Raft
 * election first (1.6-3.6 s here), then the new controller times every session afresh. At 6 s that case still
 * reached 9.3 s; 5 s, with heartbeats four times per session, keeps it under 10 s with the slowest election seen
 * (docs/operations.md, "Running against three brokers"). A controller setting (`broker.session.timeout.ms`) and a
 * broker one (`broker.heartbeat.interval.ms`): every node gets both.
 */
export const CLUSTER_FAILOVER: Readonly<Record<string, string>> = {
  'broker.session.timeout.ms': '5000',
  'broker.heartbeat.interval.ms': '1250',
};

/** What every node of a three-node cluster runs with beyond the one-broker stack's settings. */
export const CLUSTER_PROPERTIES: Readonly<Record<string, string>> = {
  ...CLUSTER_REPLICATION,
  ...CLUSTER_FAILOVER,
};

/** The node count `stack:up --brokers N` accepts: one (the default, CI's stack) or a three-voter cluster. */
export function parseBrokerCount(value: string | undefined): 1 | 3 {
  if (value === undefined || value === '1') return 1;
  if (value === '3') return 3;
  throw new Error(`--brokers "${value}" is not allowed: expected 1 or 3`);
}

/** Voters 1..count, each on its own controller port (in order). */
export function clusterVoters(controllerPorts: readonly number[]): ClusterVoter[] {
  return controllerPorts.map((controllerPort, index) => ({ nodeId: index + 1, controllerPort }));
}

/**
 * The node ids of dedicated controllers: after the brokers' 1..3, so a broker keeps its id whichever way the
 * cluster is laid out.
 */
export const FIRST_DEDICATED_CONTROLLER_ID = 4;

/** Dedicated controller voters, ids from FIRST_DEDICATED_CONTROLLER_ID on, each on its own port (in order). */
export function dedicatedControllerVoters(controllerPorts: readonly number[]): ClusterVoter[] {
  return controllerPorts.map((controllerPort, index) => ({
    nodeId: FIRST_DEDICATED_CONTROLLER_ID + index,
    controllerPort,
  }));
}
