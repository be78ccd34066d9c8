/** Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body. */
export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

export type WireHeader =
  { ok: true; schemaId: number } | { ok: false; problem: 'too-short' | 'bad-magic-byte'; detail: string };

export function readWireHeader(value: Buffer): WireHeader {
  if (value.length < HEADER_LENGTH) {
    return {
      ok: false,
      problem: 'too-short',
      detail: `value of ${value.length} bytes is shorter than the 5-byte header`,
    };
  }
  const magic = value.readUInt8(0);
  if (magic !== MAGIC_BYTE)
    return { ok: false, problem: 'bad-magic-byte', detail: `magic byte ${magic}, expected 0` };
  return { ok: true, schemaId: value.readInt32BE(1) };
}

export function withWireHeader(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_LENGTH);
  return out;
}
