import assert from 'node:assert/strict';
import { test } from 'node:test';

import { benchHostName, hostInfo, partitionerFor, workloadStartMs } from '../../bench/lib/workload.js';

void test('host names are 51-character FQDNs, so key + value of a record come to about 150 bytes', () => {
  assert.equal(benchHostName(0), 'host-00000.rack-00.eu-west-1a.prod.compute.internal');
  assert.equal(benchHostName(4242), 'host-04242.rack-02.ap-south-1a.prod.compute.internal');
  for (const i of [0, 1, 999, 9999]) assert.equal(benchHostName(i).length, 51);
});

void test('every host has an inventory entry under the same name', () => {
  const info = hostInfo(7);
  assert.equal(info.host, benchHostName(7));
  assert.ok(info.region && info.datacenter.startsWith(info.region) && info.role);
});

void test('hosts land on the partition the Java client picks (murmur2), so Kafka Streams sees the same split', () => {
  // Expected values from org.apache.kafka.common.utils.Utils.murmur2 of kafka-clients 4.1.1, modulo 6.
  const partitionOf = partitionerFor(6);
  assert.equal(partitionOf(benchHostName(0)), 5);
  assert.equal(partitionOf(benchHostName(1)), 3);
  assert.equal(partitionOf(benchHostName(4242)), 2);
  assert.equal(partitionOf('key'), 1);
});

void test('event times start window-aligned and end at least ten minutes in the past', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  const spec = { records: 1_000_000, partitions: 6, hosts: 10_000, stepMs: 10_000, seed: 1 };
  const start = workloadStartMs(spec, 60_000, now);
  assert.equal(start % 60_000, 0);
  const lastEvent = start + (spec.records / spec.hosts) * spec.stepMs + 1000;
  assert.ok(lastEvent <= now - 10 * 60_000 + 60_000, `last event ${now - lastEvent} ms before now`);
});
