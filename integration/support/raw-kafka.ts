/**
 * A bare Kafka protocol connection for the few requests a test must time itself, to the microtask, where a client
 * library would add its own steps in between (a lookup, a queue, a retry). Only non-flexible request versions,
 * PLAINTEXT, and the fields the tests read.
 */
import { createConnection, type Socket } from 'node:net';

function nullableString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

export class RawKafkaConnection {
  private received = Buffer.alloc(0);
  private readonly waiting = new Map<
    number,
    { resolve: (body: Buffer) => void; reject: (e: Error) => void }
  >();
  private nextCorrelationId = 1;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.received = Buffer.concat([this.received, chunk]);
      while (this.received.length >= 4) {
        const size = this.received.readInt32BE(0);
        if (this.received.length < 4 + size) break;
        const frame = this.received.subarray(4, 4 + size);
        this.received = this.received.subarray(4 + size);
        const correlationId = frame.readInt32BE(0);
        this.waiting.get(correlationId)?.resolve(frame.subarray(4));
        this.waiting.delete(correlationId);
      }
    });
    // A request whose answer can no longer come fails, rather than the error going unheard.
    const failAll = (error: Error) => {
      for (const { reject } of this.waiting.values()) reject(error);
      this.waiting.clear();
    };
    socket.on('error', failAll);
    socket.on('close', () => {
      failAll(new Error('the connection closed'));
    });
  }

  static open(address: string): Promise<RawKafkaConnection> {
    const [host, port] = splitAddress(address);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port }, () => {
        socket.off('error', reject);
        resolve(new RawKafkaConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /**
   * Writes the request at once (synchronously, before this returns) and resolves with the response body after
   * its correlation id.
   */
  request(apiKey: number, apiVersion: number, body: Buffer): Promise<Buffer> {
    const correlationId = this.nextCorrelationId++;
    const header = Buffer.alloc(8);
    header.writeInt16BE(apiKey, 0);
    header.writeInt16BE(apiVersion, 2);
    header.writeInt32BE(correlationId, 4);
    const frame = Buffer.concat([header, nullableString('eos-rollup-test-raw'), body]);
    const answered = new Promise<Buffer>((resolve, reject) =>
      this.waiting.set(correlationId, { resolve, reject }),
    );
    this.socket.write(Buffer.concat([int32(frame.length), frame]));
    return answered;
  }

  close(): void {
    this.socket.destroy();
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/** FindCoordinator v1 for a transactional id, asked on `connection` (any broker): the coordinator's `host:port`. */
export async function transactionCoordinatorAddress(
  connection: RawKafkaConnection,
  transactionalId: string,
): Promise<string> {
  // key, key_type 1 (transaction)
  const body = await connection.request(
    10,
    1,
    Buffer.concat([nullableString(transactionalId), Buffer.from([1])]),
  );
  // throttle_time_ms int32, error_code int16, error_message nullable string, node_id int32, host, port int32
  const errorCode = body.readInt16BE(4);
  if (errorCode !== 0) throw new Error(`FindCoordinator for ${transactionalId} answered error ${errorCode}`);
  const messageLength = body.readInt16BE(6);
  let at = 8 + Math.max(0, messageLength) + 4;
  const hostLength = body.readInt16BE(at);
  const host = body.subarray(at + 2, at + 2 + hostLength).toString('utf8');
  at += 2 + hostLength;
  return `${host}:${body.readInt32BE(at)}`;
}

/** InitProducerId v1: the error code of its answer (0, or 51 CONCURRENT_TRANSACTIONS while an abort runs). */
export function initProducerId(
  coordinator: RawKafkaConnection,
  transactionalId: string,
  transactionTimeoutMs: number,
): Promise<number> {
  const body = Buffer.concat([nullableString(transactionalId), int32(transactionTimeoutMs)]);
  // throttle_time_ms int32, then error_code int16
  return coordinator.request(22, 1, body).then((answer) => answer.readInt16BE(4));
}
