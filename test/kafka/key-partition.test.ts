import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { explicitPartitioner, keyPartitioner, murmur2 } from '../../src/kafka/client/key-partition.js';

const requireFromKafkajs = createRequire(__filename);
const kafkajsMurmur2 = requireFromKafkajs('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer,
) => number;

test("murmur2 gives the values of the Java client's Utils.murmur2 test cases", () => {
  // Kafka's UtilsTest.testMurmur2: the numbers the Java producer's default partitioner hashes keys to.
  const cases: [Buffer, number][] = [
    [Buffer.from('21'), -973932308],
    [Buffer.from('foobar'), -790332482],
    [Buffer.from('a-little-bit-long-string'), -985981536],
    [Buffer.from('a-little-bit-longer-string'), -1486304829],
    [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
    [Buffer.from([0x61, 0x62, 0x63]), 479470107],
  ];
  for (const [key, expected] of cases) assert.equal(murmur2(key), expected, key.toString());
});

test("murmur2 equals kafkajs's for keys of every length and byte value, so outputs keep their partitions", () => {
  let state = 11;
  const random = (n: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  for (let i = 0; i < 3000; i++) {
    const key = Buffer.from(Array.from({ length: random(70) }, () => random(256)));
    assert.equal(murmur2(key), kafkajsMurmur2(key), key.toString('hex'));
  }
  const partitionOf = keyPartitioner(7);
  for (const host of ['web-1', 'db-17', 'cache-0042', 'é-host']) {
    const key = Buffer.from(host);
    assert.equal(partitionOf(key), (kafkajsMurmur2(key) & 0x7fffffff) % 7, host);
  }
});

void test('the producers’ partitioner takes the partition each record names, and refuses a record naming none', () => {
  const partition = explicitPartitioner();
  assert.equal(partition({ topic: 'out', message: { partition: 4 } }), 4);
  assert.equal(partition({ topic: 'out', message: { partition: 0 } }), 0);
  assert.throws(() => partition({ topic: 'out', message: {} }), /names no partition/);
  assert.throws(() => partition({ topic: 'out', message: { partition: null } }), /names no partition/);
});
