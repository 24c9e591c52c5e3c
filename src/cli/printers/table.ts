/**
 * renderTable draws a bordered table the way glooctl's tablewriter does: centred upper-case
 * headers, left-aligned cells, multi-line cells split on newlines.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const split = rows.map((r) => r.map((c) => c.split('\n')));
  const widths = headers.map((h, i) => Math.max(h.length, ...split.map((r) => Math.max(...(r[i] ?? ['']).map((l) => l.length)))));
  const border = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const center = (s: string, w: number) => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  const out = [border, `|${headers.map((h, i) => ` ${center(h, widths[i]!)} `).join('|')}|`, border];
  for (const r of split) {
    const height = Math.max(1, ...r.map((c) => c.length));
    for (let line = 0; line < height; line++) {
      out.push(`|${widths.map((w, i) => ` ${(r[i]?.[line] ?? '').padEnd(w)} `).join('|')}|`);
    }
  }
  out.push(border);
  return out.join('\n');
}
