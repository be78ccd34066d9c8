/**
 * Registering the output schema at start, safe when several replicas of a fresh application do it at the same
 * instant. Every write is one the registry treats as idempotent when repeated in sequence, but concurrent ones can
 * collide (Apicurio answers 409 to the second of two simultaneous "create the compatibility rule" requests). A
 * collision is therefore re-read and accepted when the registry now holds what we asked for; only a registry that
 * holds something else rejects the start.
 */
import { FatalError } from '../errors/errors.js';

/** The compatibility every subject the stage writes to must have: readers of older versions keep working. */
export const WANTED_COMPATIBILITY = 'BACKWARD';

/** The four registry calls registration needs; each throws the HTTP client's error (with `status`) on failure. */
export interface SubjectApi {
  /** The subject's own compatibility level; undefined when it has none (HTTP 404). */
  compatibility(subject: string): Promise<string | undefined>;
  setCompatibility(subject: string, level: string): Promise<void>;
  /** Registers the schema (or finds it, when that exact schema is already registered) and returns its id. */
  register(subject: string, schema: string): Promise<number>;
  /** The id of this exact schema under the subject; undefined when it is not registered there (HTTP 404). */
  lookup(subject: string, schema: string): Promise<number | undefined>;
}

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/** Compatibility first, then the schema: the subject never holds a version without its rule, as seen by others. */
export async function registerSubjectSchema(
  api: SubjectApi,
  subject: string,
  schema: string,
): Promise<number> {
  await ensureCompatibility(api, subject);
  try {
    return await api.register(subject, schema);
  } catch (error) {
    if (httpStatus(error) !== 409) throw error;
    // A concurrent first registration of the same schema may collide; a schema that really is incompatible is
    // not found by the lookup, and the original rejection stands.
    const id = await api.lookup(subject, schema);
    if (id === undefined) throw error;
    return id;
  }
}

async function ensureCompatibility(api: SubjectApi, subject: string): Promise<void> {
  const current = await api.compatibility(subject);
  if (current === undefined) {
    try {
      await api.setCompatibility(subject, WANTED_COMPATIBILITY);
      return;
    } catch (error) {
      if (httpStatus(error) !== 409) throw error;
      // Another replica created the rule between our read and our write: what matters is what it holds now.
      accept(subject, await api.compatibility(subject));
      return;
    }
  }
  accept(subject, current);
}

function accept(subject: string, level: string | undefined): void {
  if (level?.toUpperCase() === WANTED_COMPATIBILITY) return;
  // Not overwritten: somebody chose this level for the subject, and readers may depend on it.
  throw new FatalError(
    'TOPIC_INCOMPATIBLE',
    `schema registry subject ${subject} has compatibility ${level ?? 'unknown'}, the stage needs ` +
      `${WANTED_COMPATIBILITY}: set it with PUT /config/${subject} {"compatibility":"${WANTED_COMPATIBILITY}"} ` +
      'or use another OUTPUT_TOPIC',
  );
}
