import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Counter, Registry } from 'prom-client';

import { OperationsServer } from '../../src/observability/http-server.js';

let ready = false;
let alive = true;
const registry = new Registry();
new Counter({ name: 'eos_rollup_test_total', help: 'a test counter', registers: [registry] }).inc(3);

async function serve(): Promise<OperationsServer> {
  const server = await OperationsServer.start(
    0,
    {
      registry,
      liveness: () => ({ alive, reasons: alive ? [] : ['the stage failed and is exiting'] }),
      readiness: () => ({ ready, reasons: ready ? [] : ['inventory not caught up yet'] }),
    },
    '127.0.0.1',
  );
  after(() => server.close());
  return server;
}

const get = (server: OperationsServer, path: string, method = 'GET') =>
  fetch(`http://127.0.0.1:${server.port}${path}`, { method });

test('/metrics serves the registry in the Prometheus text format', async () => {
  const server = await serve();
  const response = await get(server, '/metrics');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(await response.text(), /^eos_rollup_test_total 3$/m);
});

test('/readyz answers 503 with the reasons while not ready, 200 once ready', async () => {
  const server = await serve();
  ready = false;
  const notReady = await get(server, '/readyz');
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { ready: false, reasons: ['inventory not caught up yet'] });
  ready = true;
  const isReady = await get(server, '/readyz');
  assert.equal(isReady.status, 200);
  assert.deepEqual(await isReady.json(), { ready: true, reasons: [] });
});

test('/healthz answers 200 while alive, 503 with the reason once the stage failed', async () => {
  const server = await serve();
  alive = true;
  const ok = await get(server, '/healthz');
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { status: string }).status, 'ok');
  alive = false;
  const failing = await get(server, '/healthz');
  assert.equal(failing.status, 503);
  assert.deepEqual(await failing.json(), {
    status: 'failing',
    alive: false,
    reasons: ['the stage failed and is exiting'],
  });
});

test('other paths are 404 and other methods 405', async () => {
  const server = await serve();
  assert.equal((await get(server, '/')).status, 404);
  assert.equal((await get(server, '/metrics', 'POST')).status, 405);
  assert.equal((await get(server, '/metrics', 'HEAD')).status, 200);
});

test('a port already in use fails the start with the listen error', async () => {
  const server = await serve();
  await assert.rejects(
    OperationsServer.start(
      server.port,
      { registry, liveness: () => ({ alive, reasons: [] }), readiness: () => ({ ready, reasons: [] }) },
      '127.0.0.1',
    ),
    /EADDRINUSE/,
  );
});
