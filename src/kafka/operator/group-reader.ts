/**
 * Who owns which partition of a topic in a consumer group, for `eos-rollup lag`: DescribeGroups returns each
 * live member with its assignment, encoded in the consumer protocol (kafkajs's AssignerProtocol decodes it).
 * Lag numbers themselves come from lag-reader.ts, shared with the metrics.
 */
import { AssignerProtocol, type Admin, type Kafka, type MemberDescription } from 'kafkajs';
import { translateKafkaError } from '../client/translate-error.js';
import { LazyConnection } from '../client/lazy-connection.js';

export interface PartitionOwner {
  memberId: string;
  clientId: string;
  /** As the coordinator saw the connection, without kafkajs's leading slash. */
  host: string;
}

export interface GroupAssignment {
  /** Stable, Empty, PreparingRebalance, CompletingRebalance, Dead (also for a group that does not exist). */
  state: string;
  members: number;
  owners: Map<number, PartitionOwner>;
}

/** The owners of `topic`'s partitions among `members`; assignments that do not decode are someone else's protocol. */
export function ownersOf(members: readonly MemberDescription[], topic: string): Map<number, PartitionOwner> {
  const owners = new Map<number, PartitionOwner>();
  for (const member of members) {
    let partitions: number[] | undefined;
    try {
      partitions = AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[topic];
    } catch {
      partitions = undefined;
    }
    for (const partition of partitions ?? []) {
      owners.set(partition, {
        memberId: member.memberId,
        clientId: member.clientId,
        host: member.clientHost.replace(/^\//, ''),
      });
    }
  }
  return owners;
}

export class GroupReader {
  private readonly admin: Admin;
  private readonly connection = new LazyConnection(
    () => this.admin.connect(),
    () => this.admin.disconnect(),
  );

  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }

  /** The topic's partition numbers, ascending. */
  async partitions(topic: string): Promise<number[]> {
    try {
      await this.connect();
      const metadata = await this.admin.fetchTopicMetadata({ topics: [topic] });
      return (metadata.topics[0]?.partitions ?? []).map((p) => p.partitionId).sort((a, b) => a - b);
    } catch (error) {
      throw translateKafkaError(error, `reading the partitions of ${topic}`);
    }
  }

  async assignment(groupId: string, topic: string): Promise<GroupAssignment> {
    try {
      await this.connect();
      const { groups } = await this.admin.describeGroups([groupId]);
      const group = groups[0];
      if (!group) return { state: 'Dead', members: 0, owners: new Map() };
      return { state: group.state, members: group.members.length, owners: ownersOf(group.members, topic) };
    } catch (error) {
      throw translateKafkaError(error, `describing consumer group ${groupId}`);
    }
  }

  close(): Promise<void> {
    return this.connection.close();
  }

  private connect(): Promise<void> {
    return this.connection.ensure();
  }
}
