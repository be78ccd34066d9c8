import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { stickyAssignment, type MemberClaim } from '../../src/kafka/stage/sticky-assignment.js';

const SIX = [0, 1, 2, 3, 4, 5];

function plain(result: Map<string, number[]>): Record<string, number[]> {
  return Object.fromEntries(result);
}

/** Every partition exactly once, and at most one partition of difference between any two members. */
function assertBalancedCover(result: Map<string, number[]>, partitions: readonly number[]): void {
  const all = [...result.values()].flat().sort((a, b) => a - b);
  assert.deepEqual(
    all,
    [...partitions].sort((a, b) => a - b),
    'every partition exactly once',
  );
  const sizes = [...result.values()].map((p) => p.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${JSON.stringify(sizes)}`);
}

/** How many partitions changed member between two assignments. */
function moved(before: Map<string, number[]>, after: Map<string, number[]>): number {
  const ownerBefore = new Map<number, string>();
  for (const [member, partitions] of before) for (const p of partitions) ownerBefore.set(p, member);
  let count = 0;
  for (const [member, partitions] of after)
    for (const p of partitions) if (ownerBefore.get(p) !== member) count += 1;
  return count;
}

function claims(assignment: Map<string, number[]>): MemberClaim[] {
  return [...assignment].map(([memberId, owned]) => ({ memberId, owned }));
}

test('a first assignment with nothing owned is balanced and covers every partition', () => {
  const result = stickyAssignment(
    [
      { memberId: 'b', owned: [] },
      { memberId: 'a', owned: [] },
    ],
    SIX,
  );
  assertBalancedCover(result, SIX);
  assert.deepEqual(plain(result), { a: [0, 2, 4], b: [1, 3, 5] }, 'dealt out in member id order');
});

test('a third member joining takes one partition from each of two: only two of six move', () => {
  const before = new Map([
    ['a', [0, 2, 4]],
    ['b', [1, 3, 5]],
  ]);
  const after = stickyAssignment([...claims(before), { memberId: 'c', owned: [] }], SIX);
  assertBalancedCover(after, SIX);
  assert.equal(moved(before, after), 2);
  for (const member of ['a', 'b'])
    for (const p of after.get(member) ?? [])
      assert.ok(before.get(member)?.includes(p), `${member} keeps ${p}`);
});

test('a member leaving: its partitions are spread, nobody else loses one', () => {
  const before = new Map([
    ['a', [0, 3]],
    ['b', [1, 4]],
    ['c', [2, 5]],
  ]);
  const after = stickyAssignment(
    claims(before).filter((m) => m.memberId !== 'b'),
    SIX,
  );
  assertBalancedCover(after, SIX);
  assert.equal(moved(before, after), 2, 'only b’s two partitions move');
});

test('the same members claiming what they own get exactly that again', () => {
  const before = new Map([
    ['a', [1, 4, 5]],
    ['b', [0, 2, 3]],
  ]);
  assert.deepEqual(plain(stickyAssignment(claims(before), SIX)), plain(before));
});

test('a partition claimed by two members (one missed a generation) goes to one of them only', () => {
  const result = stickyAssignment(
    [
      { memberId: 'a', owned: [0, 1, 2] },
      { memberId: 'b', owned: [2, 3, 4] },
    ],
    SIX,
  );
  assertBalancedCover(result, SIX);
  assert.deepEqual(plain(result), { a: [0, 1, 2], b: [3, 4, 5] });
});

test('partitions that no longer exist are not kept; new ones are handed out', () => {
  const result = stickyAssignment(
    [
      { memberId: 'a', owned: [0, 7] },
      { memberId: 'b', owned: [1] },
    ],
    [0, 1, 2, 3],
  );
  assertBalancedCover(result, [0, 1, 2, 3]);
  assert.ok(result.get('a')?.includes(0) && result.get('b')?.includes(1));
});

test('more members than partitions: owners keep theirs, the others get none', () => {
  const result = stickyAssignment(
    [
      { memberId: 'a', owned: [] },
      { memberId: 'b', owned: [1] },
      { memberId: 'c', owned: [0] },
    ],
    [0, 1],
  );
  assertBalancedCover(result, [0, 1]);
  assert.deepEqual(plain(result), { a: [], b: [1], c: [0] });
});

test('an unbalanced claim is cut to the fair share and the rest moves', () => {
  const result = stickyAssignment(
    [
      { memberId: 'a', owned: SIX },
      { memberId: 'b', owned: [] },
    ],
    SIX,
  );
  assertBalancedCover(result, SIX);
  assert.deepEqual(result.get('a'), [0, 1, 2]);
});
