/**
 * The back-offs kafkajs's own retrier sleeps with the client's retry settings: none longer than Kafka's clients
 * wait (1 s), whatever its jitter draws. Timers are mocked; the retrier is kafkajs's, not a copy of it.
 */
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { test, type TestContext } from 'node:test';
import { CLIENT_RETRY } from '../../src/kafka/client/client.js';

type Retrier = (
  fn: (bail: (error: Error) => void, retryCount: number, retryTime: number) => Promise<unknown>,
) => Promise<unknown>;
const createRetry = createRequire(__filename)('kafkajs/src/retry') as (options: object) => Retrier;

const KAFKA_RETRY_BACKOFF_MAX_MS = 1000;

/** Every back-off slept before the retrier gave up on a call that always fails, and how many calls it made. */
async function backoffsUntilGivenUp(
  t: TestContext,
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number },
  jitterDraw: number,
): Promise<{ slept: number[]; calls: number }> {
  t.mock.method(Math, 'random', () => jitterDraw);
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const offered: number[] = [];
  let called: () => void = () => undefined;
  const outcome = createRetry(retry)((_bail, _count, retryTime) => {
    offered.push(retryTime);
    called();
    return Promise.reject(new Error('connect ECONNREFUSED'));
  }).then(
    () => assert.fail('a call that always fails succeeded'),
    (error: unknown) => error as Error,
  );
  const state = { settled: false };
  void outcome.then(() => (state.settled = true));
  const slept: number[] = [];
  for (;;) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (state.settled) break;
    const backoff = offered[offered.length - 1]!;
    slept.push(backoff);
    const next = new Promise<void>((resolve) => (called = resolve));
    t.mock.timers.tick(backoff);
    await next;
  }
  const error = await outcome;
  assert.equal(error.name, 'KafkaJSNumberOfRetriesExceeded');
  return { slept, calls: offered.length };
}

for (const [draw, jitter] of [
  [0, 'the shortest'],
  [0.5, 'no'],
  [0.999_999, 'the longest'],
] as const) {
  test(`with ${jitter} jitter, the client's retry never backs off longer than 1 s, and gives up after its retries`, async (t) => {
    const { slept, calls } = await backoffsUntilGivenUp(t, CLIENT_RETRY, draw);
    assert.equal(calls, CLIENT_RETRY.retries + 1);
    assert.equal(slept.length, CLIENT_RETRY.retries);
    assert.ok(
      slept.every((ms) => ms <= KAFKA_RETRY_BACKOFF_MAX_MS),
      `back-offs ${slept.join(', ')} ms`,
    );
    assert.ok(slept[0] !== undefined && slept[0] <= 120, `first back-off ${String(slept[0])} ms`);
  });
}

test('negative control: the former 3 s cap sleeps 1.6 s before the fifth try', async (t) => {
  const { slept } = await backoffsUntilGivenUp(t, { ...CLIENT_RETRY, maxRetryTime: 3000 }, 0.5);
  assert.deepEqual(slept, [100, 200, 400, 800, 1600]);
});
