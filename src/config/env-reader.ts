import { describeAllowed, VARIABLE_SPECS, type VariableName, type VariableSpec } from './variables.js';

const INTEGER = /^(?:0|-?[1-9][0-9]*)$/;
const QUOTED_VALUE_MAX_CHARS = 100;

/**
 * Reads variables against their specs and collects every problem instead of stopping at the first, so an
 * operator fixes all of them in one restart. A variable whose value is rejected reads as its default, which lets
 * the loader keep going; cross-variable checks ask `isValid` first so a bad value does not cause a second,
 * misleading complaint about its neighbour.
 */
export class EnvReader {
  private readonly problemList: string[] = [];
  private readonly invalid = new Set<VariableName>();

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  get problems(): readonly string[] {
    return this.problemList;
  }

  /** The value as set, or undefined. An empty value counts as unset: `FOO=` in a compose file means "not given". */
  raw(name: VariableName): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  isSet(name: VariableName): boolean {
    return this.raw(name) !== undefined;
  }

  isValid(...names: VariableName[]): boolean {
    return names.every((name) => !this.invalid.has(name));
  }

  /** Records "NAME=<value> is not allowed: expected <allowed>"; secrets are named but never quoted. */
  reject(name: VariableName, expected?: string): void {
    const spec: VariableSpec = VARIABLE_SPECS[name];
    const value = this.raw(name);
    const shown = isSecret(spec) || value === undefined ? ' (value not shown)' : `=${quote(value)}`;
    this.problem(name, `${name}${shown} is not allowed: expected ${expected ?? describeAllowed(spec)}`);
  }

  /** Records a problem in the caller's own words, for cross-variable rules ("X is set but Y is missing"). */
  problem(name: VariableName, message: string): void {
    this.invalid.add(name);
    this.problemList.push(message);
  }

  /** The set value or the default; a required variable that is missing is a problem (and reads as ''). */
  text(name: VariableName): string {
    const spec: VariableSpec = VARIABLE_SPECS[name];
    const value = this.raw(name) ?? spec.default;
    if (value !== undefined) return value;
    if (spec.kind === 'text' && spec.required === true) {
      this.problem(name, `${name} is required: expected ${describeAllowed(spec)}`);
    }
    return '';
  }

  /** Like text, for variables with no default whose absence means "not used". */
  optionalText(name: VariableName): string | undefined {
    return this.raw(name) ?? VARIABLE_SPECS[name].default;
  }

  /** Checks a text value against a pattern; a rejected value reads as the default. */
  matching(name: VariableName, isAllowed: (value: string) => boolean): string {
    const value = this.text(name);
    if (!this.isSet(name) || isAllowed(value)) return value;
    this.reject(name);
    return VARIABLE_SPECS[name].default ?? '';
  }

  /** Strict decimal integers only: "10ms", "1e3", " 5", "0x10" and "010" are all rejected. */
  integer(name: VariableName): number {
    const spec: VariableSpec = VARIABLE_SPECS[name];
    if (spec.kind !== 'integer') throw new TypeError(`${name} is not an integer variable`);
    const fallback = Number(spec.default);
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = INTEGER.test(value) ? Number(value) : Number.NaN;
    const inRange = Number.isSafeInteger(parsed) && parsed >= spec.min && parsed <= spec.max;
    if (inRange || parsed === spec.special?.value) return parsed;
    this.reject(name);
    return fallback;
  }

  /** "true" or "false", in any letter case; nothing else, so a typo never silently turns TLS off. */
  boolean(name: VariableName): boolean {
    const spec: VariableSpec = VARIABLE_SPECS[name];
    if (spec.kind !== 'boolean') throw new TypeError(`${name} is not a boolean variable`);
    const value = this.raw(name)?.toLowerCase() ?? spec.default;
    if (value === 'true' || value === 'false') return value === 'true';
    this.reject(name);
    return spec.default === 'true';
  }

  /** One of the spec's values, in any letter case, returned in lower case; undefined when unset with no default. */
  choice<T extends string>(name: VariableName, values: readonly T[]): T | undefined {
    const value = this.raw(name)?.toLowerCase() ?? VARIABLE_SPECS[name].default;
    if (value === undefined) return undefined;
    const found = values.find((allowed) => allowed === value);
    if (found !== undefined) return found;
    this.reject(name);
    return values.find((allowed) => allowed === VARIABLE_SPECS[name].default);
  }
}

function isSecret(spec: VariableSpec): boolean {
  return spec.kind === 'text' && spec.secret === true;
}

/** JSON quoting keeps the message on one line whatever the value holds; long values are cut. */
function quote(value: string): string {
  const cut = value.length > QUOTED_VALUE_MAX_CHARS ? `${value.slice(0, QUOTED_VALUE_MAX_CHARS)}...` : value;
  return JSON.stringify(cut);
}
