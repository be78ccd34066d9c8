/** Enrichment as the README states it: a rollup carries its host's inventory entry, or `unknown` for each field. */
import { UNKNOWN } from './contract.js';
import type { AuditHostInfo } from './types.js';

export interface Enrichment {
  region: string;
  datacenter: string;
  role: string;
}

/** Null when no inventory was declared fixed: then enrichment is not judged. */
export function enrichmentLookup(
  inventory: readonly AuditHostInfo[] | undefined,
): (host: string) => Enrichment | null {
  if (inventory === undefined) return () => null;
  const byHost = new Map<string, Enrichment>();
  // The last entry for a host wins, as the compacted topic keeps it.
  for (const h of inventory) byHost.set(h.host, { region: h.region, datacenter: h.datacenter, role: h.role });
  return (host) => byHost.get(host) ?? { region: UNKNOWN, datacenter: UNKNOWN, role: UNKNOWN };
}
