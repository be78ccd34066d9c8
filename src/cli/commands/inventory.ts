/**
 * `eos-rollup inventory load <file> [--delete <host>]...` and `eos-rollup inventory --delete <host>...`:
 * writes the enrichment table. Each host becomes one record on INVENTORY_TOPIC, key = host, value = Avro
 * HostInfo registered under `<INVENTORY_TOPIC>-value`; `--delete` writes a tombstone (null value), which the
 * stage reads as "unknown host" from then on.
 *
 * The file is JSON (an array of {host, region, datacenter, role}) or CSV with the header
 * `host,region,datacenter,role`; `.json` and `.csv` decide, otherwise a leading `[` means JSON. The whole file
 * is checked before anything is written, and the first problem stops the command with the file and line.
 */
import { readFileSync } from 'node:fs';
import { commandLogger } from '../command-logger.js';
import { extname } from 'node:path';
import { loadConfig } from '../../config/config.js';
import type { HostInfo } from '../../domain/metric.js';
import { createKafka } from '../../kafka/client/client.js';
import { RecordWriter, type OutgoingRecord } from '../../kafka/operator/record-writer.js';
import { missingTopics } from '../../kafka/operator/source-topics.js';
import { AvroEncoder } from '../../serde/avro-encoder.js';
import { RegistryClient } from '../../serde/registry-client.js';
import { closest } from '../../config/suggest.js';
import { helpText, parseCommandArgs, usageError, type CommandSpec } from '../arguments.js';
import { CommandError, EXIT } from '../exit.js';
import { errorMessage } from '../../errors/message.js';

const USAGE =
  'usage: eos-rollup inventory load <file> [--delete <host>]... | eos-rollup inventory --delete <host>...';
const FIELDS = ['host', 'region', 'datacenter', 'role'] as const;
const CSV_HEADER = FIELDS.join(',');

interface InventoryArgs {
  file: string | undefined;
  deletes: string[];
}

const SPEC: CommandSpec = {
  command: 'inventory',
  usage: USAGE,
  details: `File: JSON array of {host, region, datacenter, role}, or CSV with header ${CSV_HEADER}.`,
  options: { delete: { type: 'string', multiple: true } },
  positionals: ['load', '<file>'],
};

/** undefined: --help was asked for. */
function parseInventoryArgs(args: string[]): InventoryArgs | undefined {
  const parsed = parseCommandArgs(SPEC, args);
  if (parsed === 'help') return undefined;
  const deletes = parsed.values.delete;
  const hosts = Array.isArray(deletes) ? deletes : [];
  const [action, file] = parsed.positionals;
  if (action !== undefined && action !== 'load') {
    const meant = closest(action, ['load']);
    throw usageError(
      SPEC,
      `unknown subcommand "${action}"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}: load <file> or --delete <host>`,
    );
  }
  if (action === 'load' && file === undefined) throw usageError(SPEC, 'load needs a <file>');
  if (action === undefined && hosts.length === 0)
    throw usageError(SPEC, 'nothing to do: load <file> or --delete <host>');
  if (hosts.some((host) => host.trim() === ''))
    throw usageError(SPEC, '--delete needs a non-empty host name');
  return { file, deletes: hosts };
}

// ---------------------------------------------------------------------------------------------------------
// Reading the file (pure, exported for tests)

/** Parses an inventory file's text; throws CommandError naming `fileName` and the line of the first problem. */
export function parseInventory(text: string, fileName: string): HostInfo[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const extension = extname(fileName).toLowerCase();
  const isJson = extension === '.json' || (extension !== '.csv' && body.trimStart().startsWith('['));
  const hosts = isJson ? parseJsonInventory(body, fileName) : parseCsvInventory(body, fileName);
  if (hosts.length === 0) throw new CommandError(`${fileName}: no hosts in the file`);
  return hosts.map((h) => h.info);
}

interface LocatedHost {
  info: HostInfo;
  line: number;
}

function fail(fileName: string, line: number | undefined, reason: string): never {
  throw new CommandError(`${fileName}${line === undefined ? '' : `:${line}`}: ${reason}`);
}

function checkFields(values: Readonly<Record<string, unknown>>, fileName: string, line: number): HostInfo {
  for (const name of Object.keys(values)) {
    if (!(FIELDS as readonly string[]).includes(name)) {
      fail(fileName, line, `unexpected field "${name}"; expected ${FIELDS.join(', ')}`);
    }
  }
  const field = (name: (typeof FIELDS)[number]): string => {
    const value = values[name];
    if (typeof value !== 'string' || value.trim() === '') fail(fileName, line, `${name} is missing or empty`);
    if (value !== value.trim())
      fail(fileName, line, `${name} ${JSON.stringify(value)} has leading or trailing spaces`);
    return value;
  };
  return {
    host: field('host'),
    region: field('region'),
    datacenter: field('datacenter'),
    role: field('role'),
  };
}

function checkUnique(hosts: LocatedHost[], fileName: string): LocatedHost[] {
  const firstLine = new Map<string, number>();
  for (const { info, line } of hosts) {
    const previous = firstLine.get(info.host);
    if (previous !== undefined)
      fail(fileName, line, `host ${info.host} appears again (first on line ${previous})`);
    firstLine.set(info.host, line);
  }
  return hosts;
}

function parseCsvInventory(text: string, fileName: string): LocatedHost[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').replace(/\s+/g, '');
  if (header !== CSV_HEADER) {
    fail(fileName, 1, `header is ${JSON.stringify(lines[0] ?? '')}; expected ${JSON.stringify(CSV_HEADER)}`);
  }
  const hosts: LocatedHost[] = [];
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (index === 0 || raw.trim() === '') return;
    const cells = splitCsvLine(raw, fileName, line).map((cell) => cell.trim());
    if (cells.length !== FIELDS.length) {
      fail(fileName, line, `${cells.length} fields; expected ${FIELDS.length} (${CSV_HEADER})`);
    }
    const values = Object.fromEntries(FIELDS.map((name, i) => [name, cells[i]]));
    hosts.push({ info: checkFields(values, fileName, line), line });
  });
  return checkUnique(hosts, fileName);
}

/** RFC 4180 fields on one line: commas separate, double quotes enclose, `""` inside quotes is one quote. */
function splitCsvLine(raw: string, fileName: string, line: number): string[] {
  const cells: string[] = [];
  let cell = '';
  let isQuoted = false;
  for (let i = 0; i < raw.length; i++) {
    const char = raw.charAt(i);
    if (isQuoted) {
      if (char === '"' && raw.charAt(i + 1) === '"') {
        cell += '"';
        i += 1;
      } else if (char === '"') {
        isQuoted = false;
      } else {
        cell += char;
      }
    } else if (char === '"' && cell.trim() === '') {
      isQuoted = true;
      cell = '';
    } else if (char === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += char;
    }
  }
  if (isQuoted) fail(fileName, line, 'a quoted field is not closed');
  cells.push(cell);
  return cells;
}

function parseJsonInventory(text: string, fileName: string): LocatedHost[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = errorMessage(error);
    const position = /at position (\d+)/.exec(message)?.[1];
    fail(
      fileName,
      position === undefined ? undefined : lineAt(text, Number(position)),
      `not valid JSON: ${message}`,
    );
  }
  if (!Array.isArray(parsed)) fail(fileName, 1, 'expected a JSON array of {host, region, datacenter, role}');
  const lines = elementLines(text);
  const hosts = parsed.map((entry: unknown, index) => {
    const line = lines[index] ?? 1;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      fail(fileName, line, `entry ${index + 1} is not an object`);
    }
    return { info: checkFields(entry as Record<string, unknown>, fileName, line), line };
  });
  return checkUnique(hosts, fileName);
}

function lineAt(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < position && i < text.length; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** The line on which each element of the (valid JSON) top-level array starts. */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let isInString = false;
  let expectsElement = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === '\n') line += 1;
    if (isInString) {
      if (char === '\\') i += 1;
      else if (char === '"') isInString = false;
      continue;
    }
    if (depth === 1 && expectsElement && !/\s/.test(char) && char !== ']') {
      lines.push(line);
      expectsElement = false;
    }
    if (char === '"') isInString = true;
    else if (char === '[' || char === '{') {
      depth += 1;
      if (depth === 1) expectsElement = true;
    } else if (char === ']' || char === '}') depth -= 1;
    else if (char === ',' && depth === 1) expectsElement = true;
  }
  return lines;
}

function readInventoryFile(file: string): HostInfo[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? errorMessage(error);
    throw new CommandError(`${file}: cannot read the file (${reason})`);
  }
  return parseInventory(text, file);
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export async function inventoryCommand(args: string[]): Promise<number> {
  const parsed = parseInventoryArgs(args);
  if (!parsed) {
    console.log(helpText(SPEC));
    return EXIT.ok;
  }
  const { file, deletes } = parsed;
  const hosts = file === undefined ? [] : readInventoryFile(file);
  const config = loadConfig(process.env);
  const topic = config.topics.inventory;
  const logger = commandLogger(config);
  const kafka = createKafka(config.kafka, `${config.appId}-inventory`, logger, { quietRetries: true });
  if ((await missingTopics(kafka, [topic])).length > 0) {
    throw new CommandError(
      `inventory topic ${topic} (INVENTORY_TOPIC) does not exist: create it with eos-rollup topics create`,
    );
  }

  const records: OutgoingRecord[] = [];
  if (hosts.length > 0) {
    const encoder = await AvroEncoder.register<HostInfo>(
      new RegistryClient(config.registry),
      topic,
      'hostInfo',
    );
    records.push(...hosts.map((h) => ({ key: h.host, value: encoder.encode(h) })));
  }
  // Tombstones after the loads, so `load f --delete h` leaves h deleted even when f lists it.
  records.push(...deletes.map((host) => ({ key: host, value: null })));

  const writer = await RecordWriter.connect(kafka);
  try {
    await writer.send(topic, records);
  } finally {
    await writer.close().catch(() => undefined);
  }
  if (file !== undefined) console.log(`loaded ${hosts.length} hosts into ${topic}`);
  for (const host of deletes) console.log(`deleted host ${host} from ${topic}`);
  return EXIT.ok;
}
