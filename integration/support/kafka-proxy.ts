/**
 * A loopback TCP proxy in front of a Kafka broker that understands the protocol's framing, so a test can delay or
 * lose individual requests (F16, F17) instead of whole connections.
 *
 * Client → broker bytes are split into request frames (int32 size, then the request header: int16 api_key, int16
 * api_version, int32 correlation_id, nullable string client_id); broker → client bytes into response frames (int32
 * size, int32 correlation_id), matched to their request by correlation id. A rule picks requests by api key (and
 * client id prefix, and how many to let through first) and:
 * - `delay`: holds the frame back `delayMs`; later frames of the same connection and direction wait behind it, as
 *   on a slow link (TCP keeps order);
 * - `drop`: never forwards it. With `cut`, the connection is closed right after, as a client sees a lost request
 *   on a broken link: the error comes at once instead of after the client's request timeout.
 * With `target: 'response'` the same applies to the broker's answer to a matching request: the request was
 * served, only the client does not learn it (an unknown outcome, for EndTxn).
 *
 * Frames the client wrote before it closed its side are still delivered (they were on the wire), then the
 * broker side is closed. Counters per api key prove in a test that a rule really struck.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';

/** The api keys the fault scenarios care about (Kafka protocol numbering). */
export const API_KEYS = Object.freeze({
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  WriteTxnMarkers: 27,
  TxnOffsetCommit: 28,
} as const);

export interface ProxyRule {
  apiKey: number;
  action: 'delay' | 'drop';
  /** For `delay`. */
  delayMs?: number;
  /** The request itself (default) or the broker's response to it. */
  target?: 'request' | 'response';
  /** After a drop, close the connection (both sides). */
  cut?: boolean;
  /** Only requests whose client id starts with this (the stage's is `<APP_ID>-<instance>`). */
  clientIdPrefix?: string;
  /**
   * Only Produce requests that carry a transactional id: a transaction's records, not the non-transactional
   * writes the same client makes (the processing-attempts journal).
   */
  transactionalProduce?: boolean;
  /** Let this many matching requests through untouched first. */
  skip?: number;
  /** Strike at most this many times (after `skip`); unlimited when absent. */
  times?: number;
}

export interface ApiCounts {
  /** Requests seen (whatever happened to them). */
  requests: number;
  delayed: number;
  dropped: number;
  responsesDelayed: number;
  responsesDropped: number;
}

export interface Strike {
  atMs: number;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  what: 'delayed' | 'dropped' | 'response-delayed' | 'response-dropped';
  cut: boolean;
}

interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Produce v3+ only: whether its body's first field, the nullable transactional id, is set. */
  transactional: boolean;
}

interface ArmedRule {
  rule: ProxyRule;
  matched: number;
  struck: number;
}

/** Splits a byte stream into size-prefixed frames (the size itself excluded from its value). */
class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) break;
      frames.push(this.buffered.subarray(0, 4 + size));
      this.buffered = this.buffered.subarray(4 + size);
    }
    return frames;
  }
}

function requestHeader(frame: Buffer): RequestHeader {
  const clientIdLength = frame.length >= 14 ? frame.readInt16BE(12) : -1;
  const apiKey = frame.readInt16BE(4);
  const apiVersion = frame.readInt16BE(6);
  // Request header v1 (kafkajs sends no flexible versions): the body starts right after the client id.
  const bodyStart = 14 + Math.max(clientIdLength, 0);
  const transactional =
    apiKey === API_KEYS.Produce &&
    apiVersion >= 3 &&
    frame.length >= bodyStart + 2 &&
    frame.readInt16BE(bodyStart) >= 0;
  return {
    apiKey,
    apiVersion,
    correlationId: frame.readInt32BE(8),
    clientId: clientIdLength < 0 ? null : frame.toString('utf8', 14, 14 + clientIdLength),
    transactional,
  };
}

/** Writes frames to a socket in order, each no earlier than its release time. */
class OrderedWriter {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: Socket) {}

  write(frame: Buffer, delayMs = 0): void {
    const releaseAt = Date.now() + delayMs;
    this.enqueue(async () => {
      const wait = releaseAt - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (!this.socket.destroyed) this.socket.write(frame);
    });
  }

  /** Runs `action` once every frame queued so far was written (or given up). */
  afterQueued(action: () => void): void {
    this.enqueue(action);
  }

  private enqueue(step: () => void | Promise<void>): void {
    // A step that fails (a socket closed meanwhile) must not stop the ones behind it.
    this.tail = this.tail.then(step).catch(() => undefined);
  }
}

export class KafkaProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private rules: ArmedRule[] = [];
  private readonly counts = new Map<number, ApiCounts>();
  /** Every strike, in order: what a test reports when it must show that its fault happened. */
  readonly strikes: Strike[] = [];
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => {
      this.accept(client);
    });
  }

  /** Listens on `listenPort` (0: any free port) of 127.0.0.1 and forwards to the broker at the target. */
  static async start(targetHost: string, targetPort: number, listenPort = 0): Promise<KafkaProxy> {
    const proxy = new KafkaProxy(targetHost, targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(listenPort, '127.0.0.1', resolve);
    });
    const address = proxy.server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  /** Replaces the rules and starts the counters and strikes afresh: they describe this rule set. */
  setRules(rules: readonly ProxyRule[]): void {
    this.rules = rules.map((rule) => ({ rule, matched: 0, struck: 0 }));
    this.counts.clear();
    this.strikes.length = 0;
  }

  clearRules(): void {
    this.rules = [];
  }

  count(apiKey: number): ApiCounts {
    return { ...this.countsOf(apiKey) };
  }

  /** One line per api key that was struck, for a test's diagnostics. */
  summary(): string {
    const names = new Map(Object.entries(API_KEYS).map(([name, key]) => [key as number, name]));
    return [...this.counts]
      .filter(([, c]) => c.delayed + c.dropped + c.responsesDelayed + c.responsesDropped > 0)
      .map(
        ([key, c]) =>
          `${names.get(key) ?? `api ${key}`}: ${c.requests} requests, ${c.delayed} delayed, ${c.dropped} dropped, ` +
          `${c.responsesDelayed} responses delayed, ${c.responsesDropped} responses dropped`,
      )
      .join('; ');
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  private countsOf(apiKey: number): ApiCounts {
    let counts = this.counts.get(apiKey);
    if (!counts) {
      counts = { requests: 0, delayed: 0, dropped: 0, responsesDelayed: 0, responsesDropped: 0 };
      this.counts.set(apiKey, counts);
    }
    return counts;
  }

  /** The first rule this request matches and that still has strikes left; it counts the match. */
  private ruleFor(header: RequestHeader): ProxyRule | undefined {
    for (const armed of this.rules) {
      const { rule } = armed;
      if (rule.apiKey !== header.apiKey) continue;
      if (rule.clientIdPrefix !== undefined && !(header.clientId ?? '').startsWith(rule.clientIdPrefix))
        continue;
      if (rule.transactionalProduce && !header.transactional) continue;
      armed.matched += 1;
      if (armed.matched <= (rule.skip ?? 0)) continue;
      if (rule.times !== undefined && armed.struck >= rule.times) continue;
      armed.struck += 1;
      return rule;
    }
    return undefined;
  }

  private strike(header: RequestHeader, what: Strike['what'], cut: boolean): void {
    const counts = this.countsOf(header.apiKey);
    if (what === 'delayed') counts.delayed += 1;
    else if (what === 'dropped') counts.dropped += 1;
    else if (what === 'response-delayed') counts.responsesDelayed += 1;
    else counts.responsesDropped += 1;
    this.strikes.push({ atMs: Date.now(), ...header, what, cut });
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
    }
    const toBroker = new OrderedWriter(upstream);
    const toClient = new OrderedWriter(client);
    /** Requests whose response a rule will delay or drop, by correlation id. */
    const responseRules = new Map<number, { header: RequestHeader; rule: ProxyRule }>();
    const requests = new FrameReader();
    const responses = new FrameReader();
    let isCut = false;
    const cut = () => {
      isCut = true;
      client.destroy();
      // What was queued towards the broker before the cut was already on the wire: deliver it, then close.
      toBroker.afterQueued(() => upstream.end());
    };

    client.on('data', (chunk: Buffer) => {
      for (const frame of requests.push(chunk)) {
        if (isCut) return;
        const header = requestHeader(frame);
        this.countsOf(header.apiKey).requests += 1;
        const rule = this.ruleFor(header);
        if (rule?.target === 'response') {
          responseRules.set(header.correlationId, { header, rule });
          toBroker.write(frame);
        } else if (rule?.action === 'drop') {
          this.strike(header, 'dropped', rule.cut ?? false);
          if (rule.cut) cut();
        } else if (rule?.action === 'delay') {
          this.strike(header, 'delayed', false);
          toBroker.write(frame, rule.delayMs ?? 0);
        } else {
          toBroker.write(frame);
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of responses.push(chunk)) {
        if (isCut) return;
        const correlationId = frame.readInt32BE(4);
        const pending = responseRules.get(correlationId);
        responseRules.delete(correlationId);
        if (pending?.rule.action === 'drop') {
          this.strike(pending.header, 'response-dropped', pending.rule.cut ?? false);
          if (pending.rule.cut) cut();
        } else if (pending?.rule.action === 'delay') {
          this.strike(pending.header, 'response-delayed', false);
          toClient.write(frame, pending.rule.delayMs ?? 0);
        } else {
          toClient.write(frame);
        }
      }
    });
    // Errors end in 'close' too; nothing else to do about them here.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.on('close', () => {
      toBroker.afterQueued(() => upstream.end());
    });
    upstream.on('close', () => {
      toClient.afterQueued(() => client.end());
    });
  }
}
