// Aggregate results as a table, columns in the order the query produced them; time fields
// (`_bucket`, `@timestamp`) drawn as times in the chosen zone, long decimals rounded (the
// exact value in the cell's title).
import type { Row } from "../lib/chart";
import { formatCell } from "../lib/format";
import { formatTime } from "../lib/timerange";

export const MAX_TABLE_ROWS = 5000;

/** The columns a table of `rows` shows, in order. */
export function tableColumns(rows: Row[], order: string[]): string[] {
  const cols = [...order];
  for (const r of rows.slice(0, 200)) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

export function ResultTable({ rows, order, zone }: { rows: Row[]; order: string[]; zone?: string }) {
  const cols = tableColumns(rows, order);
  if (rows.length === 0) return <div class="empty">No results.</div>;
  const fmt = (ms: number) => formatTime(ms, zone);
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Results">
      <table class="results" data-testid="results-table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, MAX_TABLE_ROWS).map((r, i) => (
            <tr key={i}>
              {cols.map((c) => {
                const shown = formatCell(c, r[c], fmt);
                return (
                  <td key={c} title={shown !== (r[c] ?? "") ? r[c] : undefined}>
                    {shown}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
