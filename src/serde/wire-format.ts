/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body. */
import type { Resolver, Type } from 'avsc';

export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export interface WireHeaderProblem {
  problem: 'too-short' | 'bad-magic-byte';
  detail: string;
}

/** The schema id of a well-formed header, else undefined (`wireHeaderProblem` says why): no object per record. */
export function wireSchemaId(value: Buffer): number | undefined {
  return value.length >= HEADER_LENGTH && value[0] === MAGIC_BYTE ? value.readInt32BE(1) : undefined;
}

/** Why `wireSchemaId` found no schema id in `value`. */
export function wireHeaderProblem(value: Buffer): WireHeaderProblem {
  if (value.length < HEADER_LENGTH) {
    return {
      problem: 'too-short',
      detail: `value of ${value.length} bytes is shorter than the 5-byte header`,
    };
  }
  return { problem: 'bad-magic-byte', detail: `magic byte ${value.readUInt8(0)}, expected 0` };
}

/**
 * `type.fromBuffer(value.subarray(HEADER_LENGTH), resolver)`, with its two checks and their messages, read in
 * place: the body's `Buffer` view was the costliest allocation of a decode.
 */
export function decodeBody(type: Type, value: Buffer, resolver?: Resolver): unknown {
  const decoded: { value: unknown; offset: number } = type.decode(value, HEADER_LENGTH, resolver);
  if (decoded.offset < 0) throw new Error('truncated buffer');
  if (decoded.offset < value.length) throw new Error('trailing data');
  return decoded.value;
}

export function withWireHeader(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_LENGTH);
  return out;
}
