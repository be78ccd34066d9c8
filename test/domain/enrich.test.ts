import assert from 'node:assert/strict';
import { test } from 'node:test';

import { enrichmentFor, UNKNOWN_ENRICHMENT } from '../../src/domain/enrich.js';

void test('an unknown host is enriched with explicit unknown region, datacenter and role', () => {
  assert.deepEqual(enrichmentFor(undefined), { region: 'unknown', datacenter: 'unknown', role: 'unknown' });
});

void test('the unknown enrichment cannot be modified by a caller', () => {
  assert.equal(Object.isFrozen(UNKNOWN_ENRICHMENT), true);
});

void test('a known host is enriched with its inventory region, datacenter and role', () => {
  const info = { host: 'db-7', region: 'eu-west', datacenter: 'dub-1', role: 'database' };
  const { region, datacenter, role } = enrichmentFor(info);
  assert.deepEqual(
    { region, datacenter, role },
    { region: 'eu-west', datacenter: 'dub-1', role: 'database' },
  );
});
