/**
 * `eos-rollup config check` and `config print`, the logic without the command line. The settings part is pure;
 * the live checks go through {@link LiveProbes}, so the order, the stopping rule and the wording are tested
 * without a broker and the probes themselves against a real one.
 */
import { errorMessage } from '../errors/message.js';

export interface CheckLine {
  check: string;
  ok: boolean;
  /** ok: what was found; not ok: the problem, naming the variable it concerns. */
  detail: string;
}

/**
 * The settings lines: one per problem the loader found (each already names its variable), or one ok line.
 * Misspelled variables are the loader's problems under CONFIG_STRICT=true and only warnings otherwise.
 */
export function settingsLines(problems: readonly string[], appId: string): CheckLine[] {
  if (problems.length === 0) return [{ check: 'settings', ok: true, detail: `APP_ID=${appId}` }];
  return problems.map((problem) => ({ check: 'settings', ok: false, detail: problem }));
}

/** The live checks; each resolves with what it found and rejects with a line naming the variable concerned. */
export interface LiveProbes {
  broker(): Promise<string>;
  registry(): Promise<string>;
  topics(): Promise<string>;
  acls(): Promise<string>;
  transactionTimeout(): Promise<string>;
}

/** Without a broker nothing else on Kafka can be learned, so its failure skips the Kafka checks after it. */
const KAFKA_CHECKS: readonly (keyof LiveProbes)[] = ['topics', 'acls', 'transactionTimeout'];
const CHECK_NAMES: Readonly<Record<keyof LiveProbes, string>> = {
  broker: 'broker',
  registry: 'registry',
  topics: 'topics',
  acls: 'acls',
  transactionTimeout: 'transaction timeout',
};

/** A failed probe may report several problems, one per line of its message: each becomes a line of its own. */
function problemsOf(error: unknown): string[] {
  const message = errorMessage(error);
  const lines = message.split('\n').filter((line) => line.trim() !== '');
  return lines.length === 0 ? [message] : lines;
}

export async function runLiveChecks(probes: LiveProbes): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const attempt = async (name: keyof LiveProbes): Promise<boolean> => {
    try {
      lines.push({ check: CHECK_NAMES[name], ok: true, detail: await probes[name]() });
      return true;
    } catch (error) {
      for (const detail of problemsOf(error)) lines.push({ check: CHECK_NAMES[name], ok: false, detail });
      return false;
    }
  };
  const isBrokerReachable = await attempt('broker');
  await attempt('registry');
  for (const name of KAFKA_CHECKS) {
    if (isBrokerReachable) await attempt(name);
    else
      lines.push({
        check: CHECK_NAMES[name],
        ok: false,
        detail: 'not checked: the broker is unreachable (KAFKA_BROKERS)',
      });
  }
  return lines;
}

export function formatCheckLine(line: CheckLine): string {
  return `${line.ok ? 'ok     ' : 'PROBLEM'} ${line.check}: ${line.detail}`;
}

export interface SettingRow {
  name: string;
  default: string | undefined;
  secret: boolean;
}

const REDACTED = '[redacted]';

/**
 * The effective settings in the order of the settings table: the value set (an empty one counts as unset, as
 * for the loader) or the default; unset without a default is an empty value. Secrets are redacted, and so is
 * any value that contains a secret of the loaded config (a password pasted into a URL, say).
 */
export function effectiveSettings(
  table: readonly SettingRow[],
  env: Readonly<Record<string, string | undefined>>,
  secrets: readonly string[],
): [string, string][] {
  return table.map((row) => {
    const set = env[row.name];
    const value = set === undefined || set === '' ? (row.default ?? '') : set;
    const isHidden = value !== '' && (row.secret || secrets.some((s) => s !== '' && value.includes(s)));
    return [row.name, isHidden ? REDACTED : value];
  });
}
