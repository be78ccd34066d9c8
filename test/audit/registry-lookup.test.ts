/**
 * The auditor's registry client against a local HTTP server that misbehaves on purpose: an audit must end with
 * an answer or a reason, never wait forever on a request the registry does not answer.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import { registryLookup } from '../../src/audit/metric-codec.js';
import { DeadlineExceeded } from '../../src/errors/deadline.js';

const SCHEMA = '{"type":"record","name":"R","fields":[]}';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Runs `use` against a server whose nth request (from 1) is handled by `handlers[n - 1]`, the last one for all
 * after, and closes it whatever happened.
 */
async function serving(
  handlers: Handler[],
  use: (server: { url: string; requests: () => number }) => Promise<void>,
): Promise<void> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    const handler = handlers[Math.min(requests, handlers.length) - 1];
    handler?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await use({ url: `http://127.0.0.1:${port}`, requests: () => requests });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
}

const silent = () => undefined;
const answer: Handler = (_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ schema: SCHEMA }));
};
const headersOnly: Handler = (_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.write('{"schema":');
};

test('a registry that never answers fails the lookup after three timed-out requests, naming the schema id', async () => {
  await serving([silent], async (server) => {
    await assert.rejects(registryLookup({ url: server.url, timeoutMs: 50 })(7), (error: unknown) => {
      assert.ok(error instanceof DeadlineExceeded, String(error));
      assert.match(error.message, /schema id 7 took longer than 50 ms/);
      return true;
    });
    assert.equal(server.requests(), 3);
  });
});

test('a request left unanswered is asked again, and the second answer counts', async () => {
  await serving([silent, answer], async (server) => {
    assert.equal(await registryLookup({ url: server.url, timeoutMs: 50 })(3), SCHEMA);
    assert.equal(server.requests(), 2);
  });
});

test('an answer cut off after its first bytes is asked again', async () => {
  await serving([headersOnly, answer], async (server) => {
    assert.equal(await registryLookup({ url: server.url, timeoutMs: 50 })(3), SCHEMA);
    assert.equal(server.requests(), 2);
  });
});

test('an id the registry does not know is null, and an HTTP error fails at once without asking again', async () => {
  await serving(
    [
      (_req, res) => {
        res.statusCode = 404;
        res.end('{}');
      },
      (_req, res) => {
        res.statusCode = 500;
        res.end('broken');
      },
    ],
    async (server) => {
      const lookup = registryLookup({ url: server.url, timeoutMs: 1000 });
      assert.equal(await lookup(1), null);
      await assert.rejects(lookup(2), /HTTP 500 for schema id 2: broken/);
      assert.equal(server.requests(), 2);
    },
  );
});
