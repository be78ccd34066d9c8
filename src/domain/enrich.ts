import type { Enrichment } from './aggregate.js';
import type { HostInfo } from './metric.js';

/** An unknown host is explicit in the output rather than a poison pill (design §6). */
export const UNKNOWN_ENRICHMENT: Enrichment = Object.freeze({
  region: 'unknown',
  datacenter: 'unknown',
  role: 'unknown',
});

export function enrichmentFor(info: HostInfo | undefined): Enrichment {
  if (info === undefined) return UNKNOWN_ENRICHMENT;
  return { region: info.region, datacenter: info.datacenter, role: info.role };
}
