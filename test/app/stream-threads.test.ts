import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { configForThread, currentStreamThread } from '../../src/app/stream-threads.js';
import { loadConfig } from '../../src/config/config.js';

const REQUIRED = { KAFKA_BROKERS: 'kafka-1:9092', SCHEMA_REGISTRY_URL: 'http://registry:8081' };

test("a stream thread's member ids are the process's with the thread's number", () => {
  const config = loadConfig({
    ...REQUIRED,
    INSTANCE_ID: 'pod-0',
    STATIC_MEMBERSHIP: 'true',
    STREAM_THREADS: '2',
  });
  const second = configForThread(config, { number: 2, of: 2, prettyLogs: false });
  assert.equal(second.instanceId, 'pod-0-2');
  assert.equal(
    second.groupInstanceId,
    'pod-0-2',
    'a static member per thread, taken back by the same thread',
  );
  assert.deepEqual(
    { ...second, instanceId: config.instanceId, groupInstanceId: config.groupInstanceId },
    config,
  );
});

test('without INSTANCE_ID a thread is <hostname>-<pid>-<n>, and stays a dynamic member', () => {
  const config = loadConfig({ ...REQUIRED, STREAM_THREADS: '3' });
  const third = configForThread(config, { number: 3, of: 3, prettyLogs: false });
  assert.equal(third.instanceId, `${hostname()}-${process.pid}-3`);
  assert.equal(third.groupInstanceId, undefined);
});

test('the main thread is no stream thread', () => {
  assert.equal(currentStreamThread(), undefined);
});
