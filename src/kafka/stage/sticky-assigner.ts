/**
 * The sticky assignment (sticky-assignment.ts) as a kafkajs partition assigner, through kafkajs's public
 * assigner API only. Each member sends the partitions it owns in its subscription's user data; the group leader
 * keeps them where they are. Listed before kafkajs's round robin, so a group that still has members of an older
 * build (which offer only round robin) agrees on round robin until they are gone.
 */
import { AssignerProtocol, type Assigner, type PartitionAssigner } from 'kafkajs';
import { stickyAssignment, type MemberClaim } from './sticky-assignment.js';

export const STICKY_ASSIGNER_NAME = 'EosRollupStickyAssigner';
const VERSION = 1;

/** What a member says it owns: `{"<topic>": [partitions]}` as JSON; anything unreadable claims nothing. */
function claimsOf(userData: Buffer | null | undefined, topic: string): number[] {
  if (!userData || userData.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(userData.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return [];
    const owned = (parsed as Record<string, unknown>)[topic];
    return Array.isArray(owned) ? owned.filter((p): p is number => Number.isInteger(p)) : [];
  } catch {
    return [];
  }
}

/** `owned`: the partitions of each topic this member holds now (its last assignment). */
export function stickyAssigner(owned: () => Readonly<Record<string, readonly number[]>>): PartitionAssigner {
  return ({ cluster }): Assigner => ({
    name: STICKY_ASSIGNER_NAME,
    version: VERSION,
    protocol({ topics }) {
      const userData = Buffer.from(JSON.stringify(owned()), 'utf8');
      return {
        name: STICKY_ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: VERSION, topics, userData }),
      };
    },
    assign({ members, topics }) {
      const decoded = members.map((member) => ({
        memberId: member.memberId,
        userData: AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.userData,
      }));
      const perMember = new Map<string, Record<string, number[]>>(decoded.map((m) => [m.memberId, {}]));
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId);
        const claims: MemberClaim[] = decoded.map((m) => ({
          memberId: m.memberId,
          owned: claimsOf(m.userData, topic),
        }));
        for (const [memberId, assigned] of stickyAssignment(claims, partitions)) {
          const topicsOfMember = perMember.get(memberId);
          if (topicsOfMember && assigned.length > 0) topicsOfMember[topic] = assigned;
        }
      }
      return Promise.resolve(
        [...perMember].map(([memberId, assignment]) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: VERSION,
            assignment,
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
  });
}
