/**
 * What `eos-rollup reset` does, decided and described without Kafka: the refusal while the group has members,
 * the offsets to set, the topics to delete and the report. Output and DLQ topics are never part of a plan.
 */

export type ResetTarget = { kind: 'earliest' } | { kind: 'time'; atMs: number };

export interface GroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

export interface PartitionOffsets {
  partition: number;
  /** The group's committed offset; null: none. */
  committed: string | null;
  target: string;
}

export interface ResetPlan {
  group: string;
  inputTopic: string;
  target: ResetTarget;
  partitions: PartitionOffsets[];
  /** The existing state topics, deleted so the next start rebuilds them from the re-read input. */
  deleteTopics: string[];
}

/** The refusal line when the group is not empty, naming every member; undefined when it is empty. */
export function refusalForMembers(group: string, members: readonly GroupMember[]): string | undefined {
  if (members.length === 0) return undefined;
  const named = members.map((m) => `${m.clientId}@${m.clientHost} (${m.memberId})`).join(', ');
  return (
    `group ${group} (APP_ID) has ${members.length} active member(s): ${named}; ` +
    'stop every instance of the stage first (offsets of a group can only be reset while it is empty)'
  );
}

function describeTarget(target: ResetTarget): string {
  return target.kind === 'earliest'
    ? 'the earliest offsets'
    : `the offsets of ${new Date(target.atMs).toISOString()} (first record at or after it, else the end)`;
}

/** The plan as lines: what would be done (dry run) or what was done. */
export function formatResetPlan(plan: ResetPlan, done: boolean): string[] {
  const verb = done ? '' : 'would ';
  const lines = [
    `reset ${plan.group}: ${verb}set the committed offsets on ${plan.inputTopic} to ${describeTarget(plan.target)}:`,
  ];
  for (const p of plan.partitions) {
    lines.push(`  partition ${p.partition}: ${p.committed ?? 'none'} -> ${p.target}`);
  }
  if (plan.deleteTopics.length === 0) {
    lines.push(`reset ${plan.group}: no changelog or processing-attempts topic to delete`);
  }
  for (const topic of plan.deleteTopics) {
    lines.push(
      `reset ${plan.group}: ${verb}delete topic ${topic} (the stage recreates it at its next start)`,
    );
  }
  lines.push(`reset ${plan.group}: output and DLQ topics are not touched`);
  return lines;
}
