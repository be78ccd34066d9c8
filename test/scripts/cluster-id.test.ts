import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { newClusterId } from '../../scripts/stack/local-stack.js';

test('a cluster id never starts with "-": such a draw is drawn again, as Kafka does', () => {
  // 0xf8 encodes to '-' as the first base64url character.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0xfb), Buffer.alloc(16, 0x41)];
  const id = newClusterId(() => draws.shift() ?? Buffer.alloc(16));
  assert.equal(draws.length, 0, 'both ids starting with "-" were refused');
  assert.equal(id, Buffer.alloc(16, 0x41).toString('base64url'));
});

test('cluster ids are 22 URL-safe base64 characters', () => {
  for (let i = 0; i < 2000; i++) {
    const id = newClusterId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  }
});
