/**
 * kafkajs 2.2.4's own produce v3 request encoding, as published (src/protocol/requests/produce/v3/request.js,
 * src/protocol/recordBatch/record/v0/index.js and the uncompressed path of src/protocol/recordBatch/v0/index.js),
 * with its JavaScript CRC32C, kept here only so
 * tests can show that the patched produce path sends the same bytes. Never used by the stage.
 *
 * Copied from kafkajs 2.2.4 under its MIT License, Copyright (c) 2018 Túlio Ornelas (ornelas.tulio@gmail.com);
 * only types were added, the compressed path (not patched) was left out, and nested encoders are written as the
 * copies kafkajs 2.2.4 made of them (`writeBuffer(e.buffer)` for its `writeEncoder(e)`), since the patched encoder
 * keeps large ones by reference.
 */
import { createRequire } from 'node:module';

const requireFromKafkajs = createRequire(__filename);

export interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
  writeInt8(value: number): KafkajsEncoder;
  writeInt16(value: number): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeUInt32(value: number): KafkajsEncoder;
  writeInt64(value: unknown): KafkajsEncoder;
  writeString(value: string | null): KafkajsEncoder;
  writeBytes(value: Buffer): KafkajsEncoder;
  writeBuffer(value: Buffer): KafkajsEncoder;
  writeEncoder(value: KafkajsEncoder): KafkajsEncoder;
  writeArray(value: unknown[], type?: string): KafkajsEncoder;
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number): KafkajsEncoder;
  writeVarIntBytes(value: unknown): KafkajsEncoder;
  writeVarIntArray(value: KafkajsEncoder[]): KafkajsEncoder;
}

export interface ProduceMessage {
  key: Buffer | string | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[]>;
  timestamp?: string;
  partition?: number;
}

export interface ProducePartitionData {
  partition: number;
  firstSequence: number;
  messages: ProduceMessage[];
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId: string | null;
  producerId: unknown;
  producerEpoch: number;
  topicData: { topic: string; partitions: ProducePartitionData[] }[];
}

type EncoderClass = (new (initialSize?: number) => KafkajsEncoder) & {
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
  sizeOfVarIntBytes(value: unknown): number;
};
type HeaderValue = Buffer | string;

const Encoder = requireFromKafkajs('kafkajs/src/protocol/encoder') as EncoderClass;
/** kafkajs's header encoder, a file the patches leave alone. */
const Header = requireFromKafkajs('kafkajs/src/protocol/recordBatch/header/v0') as (header: {
  key: string;
  value: HeaderValue;
}) => KafkajsEncoder;

/** kafkajs 2.2.4's record encoder (src/protocol/recordBatch/record/v0/index.js), as published. */
function Record({
  offsetDelta,
  timestampDelta,
  key,
  value,
  headers = {},
}: {
  key: ProduceMessage['key'];
  value: ProduceMessage['value'];
  headers?: ProduceMessage['headers'];
  offsetDelta: number;
  timestampDelta: number;
}): KafkajsEncoder {
  const headersArray = Object.keys(headers).flatMap((headerKey) => {
    const headerValue = headers[headerKey] as HeaderValue | HeaderValue[];
    return !Array.isArray(headerValue)
      ? [{ key: headerKey, value: headerValue }]
      : headerValue.map((one) => ({ key: headerKey, value: one }));
  });
  let sizeOfHeaders = Encoder.sizeOfVarInt(headersArray.length);
  for (const header of headersArray) {
    const keySize = Buffer.byteLength(header.key);
    sizeOfHeaders += Encoder.sizeOfVarInt(keySize) + keySize;
    if ((header.value as HeaderValue | null) === null) sizeOfHeaders += Encoder.sizeOfVarInt(-1);
    else {
      const valueSize = Buffer.byteLength(header.value);
      sizeOfHeaders += Encoder.sizeOfVarInt(valueSize) + valueSize;
    }
  }
  const sizeOfBody =
    1 +
    Encoder.sizeOfVarLong(timestampDelta) +
    Encoder.sizeOfVarInt(offsetDelta) +
    Encoder.sizeOfVarIntBytes(key) +
    Encoder.sizeOfVarIntBytes(value) +
    sizeOfHeaders;
  return new Encoder()
    .writeVarInt(sizeOfBody)
    .writeInt8(0)
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
    .writeVarIntBytes(key)
    .writeVarIntBytes(value)
    .writeVarIntArray(headersArray.map(Header));
}
/** The table-driven JavaScript CRC32C, a file the patch leaves alone. */
const jsCrc32C = requireFromKafkajs('kafkajs/src/protocol/recordBatch/crc32C/crc32C') as (
  buffer: Buffer,
) => number;
const unsigned = (value: number): number => Uint32Array.from([value])[0] ?? 0;
const crc32C = (buffer: Buffer): number => unsigned(jsCrc32C(buffer));

const MAGIC_BYTE = 2;

/**
 * kafkajs 2.2.4's writeArray of encoders, as it was: the count, then a copy of each encoder's bytes. The patched
 * encoder keeps large encoders by reference instead (patch 007), so the reference copies them explicitly.
 */
function copyArray(target: KafkajsEncoder, encoders: readonly KafkajsEncoder[]): KafkajsEncoder {
  target.writeInt32(encoders.length);
  for (const encoder of encoders) target.writeBuffer(encoder.buffer);
  return target;
}
const TRANSACTIONAL_MASK = 16;

function originalRecordBatch(args: {
  firstTimestamp: number;
  maxTimestamp: number;
  lastOffsetDelta: number;
  transactional: boolean;
  producerId: unknown;
  producerEpoch: number;
  firstSequence: number;
  records: KafkajsEncoder[];
}): KafkajsEncoder {
  const attributes = args.transactional ? TRANSACTIONAL_MASK : 0;
  const batchBody = new Encoder()
    .writeInt16(attributes)
    .writeInt32(args.lastOffsetDelta)
    .writeInt64(args.firstTimestamp)
    .writeInt64(args.maxTimestamp)
    .writeInt64(args.producerId)
    .writeInt16(args.producerEpoch)
    .writeInt32(args.firstSequence);
  // writeArray of encoders (every record is one): the count, then each record's bytes.
  copyArray(batchBody, args.records);
  const batch = new Encoder()
    .writeInt32(0)
    .writeInt8(MAGIC_BYTE)
    .writeUInt32(crc32C(batchBody.buffer))
    .writeBuffer(batchBody.buffer);
  return new Encoder().writeInt64(0).writeBytes(batch.buffer);
}

function originalPartition(
  data: ProducePartitionData,
  transactionalId: string | null,
  producerId: unknown,
  producerEpoch: number,
  dateNow: number,
): KafkajsEncoder {
  const messageTimestamps = data.messages
    .map((m) => m.timestamp)
    .filter((timestamp) => timestamp != null)
    .sort();
  const timestamps: (string | number)[] = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
  const firstTimestamp = Number(timestamps[0]);
  const maxTimestamp = Number(timestamps[timestamps.length - 1]);
  const records = data.messages.map((message, i) =>
    Record({
      ...message,
      offsetDelta: i,
      timestampDelta: (message.timestamp ? Number(message.timestamp) : dateNow) - firstTimestamp,
    }),
  );
  const recordBatch = originalRecordBatch({
    records,
    firstTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    firstSequence: data.firstSequence,
    transactional: !!transactionalId,
    lastOffsetDelta: records.length - 1,
  });
  return new Encoder()
    .writeInt32(data.partition)
    .writeInt32(recordBatch.size())
    .writeBuffer(recordBatch.buffer);
}

/** The bytes kafkajs 2.2.4 unpatched puts in a Produce v3 request body; `dateNow` stands for Date.now(). */
export function originalProduceRequest(args: ProduceRequestArgs, dateNow: number): Buffer {
  const topics = args.topicData.map(({ topic, partitions }) =>
    copyArray(
      new Encoder().writeString(topic),
      partitions.map((p) =>
        originalPartition(p, args.transactionalId, args.producerId, args.producerEpoch, dateNow),
      ),
    ),
  );
  return copyArray(
    new Encoder().writeString(args.transactionalId).writeInt16(args.acks).writeInt32(args.timeout),
    topics,
  ).buffer;
}
