/**
 * The operations endpoint on METRICS_PORT:
 *   GET /metrics  Prometheus text format;
 *   GET /healthz  liveness: 200 while the process loop is alive and the stage has not failed, else 503;
 *   GET /readyz   readiness: 200 when ready, else 503; the JSON body says why not.
 * Kubernetes probes and Prometheus need nothing else; anything else is 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Liveness {
  alive: boolean;
  /** Empty when alive. */
  reasons: string[];
}

export interface ReadinessReport {
  ready: boolean;
  reasons: string[];
}

/** What /metrics needs of a prom-client Registry; with STREAM_THREADS, the threads' merged registries. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface OperationsRoutes {
  registry: MetricsSource;
  // A promise when the answer comes from the stream threads (src/app/stream-threads.ts).
  liveness: () => (Liveness & Record<string, unknown>) | Promise<Liveness & Record<string, unknown>>;
  readiness: () =>
    (ReadinessReport & Record<string, unknown>) | Promise<ReadinessReport & Record<string, unknown>>;
}

export class OperationsServer {
  private constructor(private readonly server: Server) {}

  /** Listens on `port` (all interfaces unless `host` is given); 0 picks a free port (tests). */
  static async start(port: number, routes: OperationsRoutes, host?: string): Promise<OperationsServer> {
    const server = createServer((request, response) => {
      handle(routes, request, response).catch((error: unknown) => {
        respond(response, 500, 'text/plain; charset=utf-8', `${String(error)}\n`);
      });
    });
    // A scrape or probe that stalls must not pin the process at shutdown.
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new OperationsServer(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    this.server.closeAllConnections();
    await closed;
  }
}

async function handle(
  routes: OperationsRoutes,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    respondJson(response, 405, { error: 'method not allowed' });
    return;
  }
  switch (path) {
    case '/metrics': {
      const body = await routes.registry.metrics();
      respond(response, 200, routes.registry.contentType, body);
      return;
    }
    case '/healthz': {
      const liveness = await routes.liveness();
      respondJson(response, liveness.alive ? 200 : 503, {
        status: liveness.alive ? 'ok' : 'failing',
        ...liveness,
      });
      return;
    }
    case '/readyz': {
      const readiness = await routes.readiness();
      respondJson(response, readiness.ready ? 200 : 503, readiness);
      return;
    }
    default:
      respondJson(response, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
  }
}

function respondJson(response: ServerResponse, status: number, body: unknown): void {
  respond(response, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
}

function respond(response: ServerResponse, status: number, contentType: string, body: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
