/**
 * Sticky assignment, pure: which member gets which partition of one topic, keeping every partition with the
 * member that owns it now as far as a balanced assignment allows (at most one partition of difference between
 * any two members). kafkajs 2.2.4 rebalances eagerly, so every member rejoins, but a partition that stays where
 * it was keeps its running task: no fencing, no offset fetch, no restore (design §26). Only what must move moves.
 */

export interface MemberClaim {
  memberId: string;
  /** The partitions the member owned in its last assignment, as it says when it joins. */
  owned: readonly number[];
}

/** Partitions per member id; every member is present, with an empty list when it gets nothing. */
export function stickyAssignment(
  members: readonly MemberClaim[],
  partitions: readonly number[],
): Map<string, number[]> {
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  const result = new Map<string, number[]>(sorted.map((m) => [m.memberId, []]));
  if (sorted.length === 0) return result;
  const floor = Math.floor(partitions.length / sorted.length);
  let ceilSlots = partitions.length % sorted.length;
  const free = new Set(partitions);
  // Claims first, up to the floor each: a partition claimed twice (a member that missed a generation) goes to
  // the first claimant, in member id order, and a partition that no longer exists is not kept.
  for (const member of sorted) {
    const mine = result.get(member.memberId) ?? [];
    for (const partition of member.owned) {
      if (mine.length >= floor) break;
      if (free.delete(partition)) mine.push(partition);
    }
  }
  // One more kept partition for as many members as the division leaves a remainder for.
  for (const member of sorted) {
    if (ceilSlots === 0) break;
    const mine = result.get(member.memberId) ?? [];
    const extra = member.owned.find((partition) => free.has(partition));
    if (mine.length === floor && extra !== undefined) {
      free.delete(extra);
      mine.push(extra);
      ceilSlots -= 1;
    }
  }
  // The rest, lowest partition first, to the members below their share, fewest first.
  for (const partition of [...free].sort((a, b) => a - b)) {
    const target = sorted
      .map((m) => ({ id: m.memberId, count: result.get(m.memberId)?.length ?? 0 }))
      .filter(({ count }) => count < floor || (count === floor && ceilSlots > 0))
      .sort((a, b) => a.count - b.count)[0];
    if (!target) break;
    const mine = result.get(target.id) ?? [];
    if (mine.length === floor) ceilSlots -= 1;
    mine.push(partition);
  }
  for (const mine of result.values()) mine.sort((a, b) => a - b);
  return result;
}
