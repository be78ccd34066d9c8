/** Plain-text tables for the operator commands: columns padded to their widest cell, numbers right-aligned. */

export type Align = 'left' | 'right';

export interface Column {
  title: string;
  align?: Align;
}

export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? cell.length;
        return c.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)].join('\n');
}

/** A count table sorted by count (then name), for "by reason" and "by partition" summaries. */
export function formatCounts(title: string, counts: ReadonlyMap<string, number>): string {
  const rows = [...counts]
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([name, count]) => [name, String(count)]);
  return formatTable([{ title }, { title: 'RECORDS', align: 'right' }], rows);
}
