// Aggregate results as a table, columns in the order the query produced them.
import type { Row } from "../lib/chart";

export function ResultTable({ rows, order }: { rows: Row[]; order: string[] }) {
  const cols = [...order];
  for (const r of rows.slice(0, 200)) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  if (rows.length === 0) return <div class="empty">No results.</div>;
  return (
    <div class="table-wrap">
      <table class="results" data-testid="results-table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 5000).map((r, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{r[c] ?? ""}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
