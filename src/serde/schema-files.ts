/** The Avro schemas in schemas/, the contract other programs are written against (design §8). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Type, type Schema } from 'avsc';

export const SCHEMA_FILES = {
  serverMetricV1: 'server-metric-v1.avsc',
  serverMetricV2: 'server-metric-v2.avsc',
  hostInfo: 'host-info.avsc',
  metricRollup: 'metric-rollup.avsc',
} as const;
export type SchemaName = keyof typeof SCHEMA_FILES;

/** schemas/ sits beside package.json, both in the repository and in the installed package or image. */
function schemasDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'schemas');
    if (existsSync(join(candidate, SCHEMA_FILES.serverMetricV2))) return candidate;
    if (dirname(dir) === dir) throw new Error(`cannot find schemas/ above ${__dirname}`);
  }
}

const cache = new Map<SchemaName, Schema>();

export function schemaJson(name: SchemaName): Schema {
  let schema = cache.get(name);
  if (!schema) {
    schema = JSON.parse(readFileSync(join(schemasDir(), SCHEMA_FILES[name]), 'utf8')) as Schema;
    cache.set(name, schema);
  }
  return schema;
}

/** Longs stay JS numbers (avsc throws on precision loss) and timestamp-millis stays a number: no logical types. */
export function avroType(name: SchemaName): Type {
  return Type.forSchema(schemaJson(name));
}

/** The newest ServerMetric: the reader schema every writer version resolves to. */
export const READER_SCHEMA: SchemaName = 'serverMetricV2';
