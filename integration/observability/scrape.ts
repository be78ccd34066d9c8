/**
 * Reading a stage's operations endpoint from the test process: /metrics parsed into samples, /readyz and
 * /healthz as status and JSON body.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Scrape {
  constructor(
    readonly text: string,
    readonly samples: Sample[],
  ) {}

  /** Every sample of `name` whose labels include `labels`. */
  all(name: string, labels: Record<string, string | number> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)),
    );
  }

  /** The one sample of `name` matching `labels`; undefined when absent, an error when ambiguous. */
  value(name: string, labels: Record<string, string | number> = {}): number | undefined {
    const found = this.all(name, labels);
    if (found.length > 1)
      throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return found[0]?.value;
  }

  /** Sum over every sample of `name` matching `labels` (0 when none). */
  sum(name: string, labels: Record<string, string | number> = {}): number {
    return this.all(name, labels).reduce((total, s) => total + s.value, 0);
  }

  /** The lines of `name` (and its _sum, _count, _bucket), for a readable excerpt. */
  excerpt(names: readonly string[]): string {
    return this.text
      .split('\n')
      .filter((line) => names.some((n) => line.startsWith(n) || line.startsWith(`# HELP ${n} `)))
      .join('\n');
  }
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) if (key) labels[key] = value ?? '';
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return new Scrape(text, samples);
}

export async function scrape(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

export interface Probe {
  status: number;
  body: { ready?: boolean; reasons: string[]; [key: string]: unknown };
}

export async function probe(port: number, path: '/readyz' | '/healthz'): Promise<Probe> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: (await response.json()) as Probe['body'] };
}

/** Polls until `check` returns a value (not undefined); throws with the last failure after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error : new Error(String(error));
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(intervalMs);
  }
}
