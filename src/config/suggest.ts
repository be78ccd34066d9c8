/**
 * "Did you mean": the nearest of a set of known names to a word an operator typed. Pure, so commands and the
 * settings check share one notion of "near".
 */

/** Edit distance: insertions, deletions, substitutions and swaps of neighbours ("audti" is one edit from "audit"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const above = rows[i - 1] ?? [];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]?.[b.length] ?? 0;
}

/** A typo, not another word: at most 2 edits, and fewer than a third of the word. */
function near(distance: number, word: string): boolean {
  return distance <= Math.min(2, Math.floor(word.length / 3));
}

/** The known name nearest to `word`, if it is near enough to be a typo of it. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  return best && near(best.distance, word) ? best.name : undefined;
}

/**
 * Words operators bring from other tools for the same setting (Kafka Streams' application.id and
 * bootstrap.servers, window "size"): rewritten before the nearness test, so APPLICATION_ID reads as APP_ID.
 */
const SYNONYMS: Readonly<Record<string, string>> = {
  APPLICATION: 'APP',
  BOOTSTRAP_SERVERS: 'BROKERS',
  BROKER: 'BROKERS',
  SIZE: '',
  REGISTRY_URLS: 'REGISTRY_URL',
};
/** A prefix some operators put on every setting of a program; the stage's own names do not carry it. */
const PROGRAM_PREFIX = 'EOS_ROLLUP_';

function normalized(name: string): string {
  let result = name.toUpperCase();
  if (result.startsWith(PROGRAM_PREFIX)) result = result.slice(PROGRAM_PREFIX.length);
  for (const [word, replacement] of Object.entries(SYNONYMS)) {
    result = result.replace(new RegExp(`(^|_)${word}(?=_|$)`, 'g'), (_, lead: string) =>
      replacement === '' ? '' : `${lead}${replacement}`,
    );
  }
  return result.replace(/^_+/, '').replace(/__+/g, '_');
}

export interface UnknownVariable {
  name: string;
  /** The known variable it most likely meant. */
  meant: string;
}

/**
 * Set variables that are not the stage's but look like a misspelling of one of its variables. Everything else
 * in the environment (PATH, HOME, a sidecar's settings) is none of the stage's business and is left alone.
 */
export function unknownVariables(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly string[],
): UnknownVariable[] {
  const knownSet = new Set(known);
  const found: UnknownVariable[] = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || env[name] === undefined) continue;
    const rewritten = normalized(name);
    const meant = knownSet.has(rewritten) ? rewritten : closest(rewritten, known);
    if (meant !== undefined && meant !== name) found.push({ name, meant });
  }
  return found;
}
