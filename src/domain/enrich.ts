import type { Enrichment } from './aggregate.js';
import type { HostInfo } from './metric.js';

/** An unknown host is explicit in the output rather than a poison pill (design §6). */
export const UNKNOWN_ENRICHMENT: Enrichment = Object.freeze({
  region: 'unknown',
  datacenter: 'unknown',
  role: 'unknown',
});

/**
 * A host's enrichment: its inventory record as it is (it carries region, datacenter and role), not a copy made
 * for every record; an aggregate copies the three fields when it keeps them.
 */
export function enrichmentFor(info: HostInfo | undefined): Enrichment {
  return info ?? UNKNOWN_ENRICHMENT;
}
