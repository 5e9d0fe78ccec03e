// The field sidebar: fields present in the shown events, each with its top values and a
// toggle that shows it as a column of the event list. A click on a value adds
// `field="value"` to the query; its "not" button adds `field!="value"`.
import { useState } from "preact/hooks";
import { Column, toggleColumn } from "../lib/columns";
import type { FieldStat } from "../lib/fields";
import type { FilterFn } from "./EventList";

export function FieldSidebar({
  stats,
  total,
  cols,
  onFilter,
  onColumns,
}: {
  stats: FieldStat[];
  total: number;
  cols: Column[];
  onFilter: FilterFn;
  onColumns: (c: Column[]) => void;
}) {
  const [open, setOpen] = useState<string | null>(null);
  const builtins = ["@timestamp", "@rawstring"];
  const shown = (f: string) => cols.some((c) => c.field === f);
  const colToggle = (name: string) => (
    <button
      type="button"
      class={shown(name) ? "icon col-toggle on" : "icon col-toggle"}
      data-testid="column-toggle"
      aria-pressed={shown(name)}
      aria-label={`Show ${name} as a column`}
      title={shown(name) ? "Shown as a column (click to remove)" : "Show as a column"}
      onClick={() => onColumns(toggleColumn(cols, name))}
    >
      ▦
    </button>
  );
  return (
    <aside class="fields" data-testid="fields" aria-label="Fields">
      <h2 class="h3">Fields</h2>
      <ul>
        {builtins.map((b) => (
          <li key={b} data-field={b} class="field-row builtin">
            <span class="field-name static">{b}</span>
            {colToggle(b)}
          </li>
        ))}
      </ul>
      {stats.length === 0 && <div class="muted">No other fields</div>}
      <ul>
        {stats.map((s) => (
          <li key={s.name} data-field={s.name}>
            <div class="field-row">
              <button type="button" class="link field-name" aria-expanded={open === s.name} onClick={() => setOpen(open === s.name ? null : s.name)}>
                {s.name} <span class="muted">{Math.round((100 * s.count) / Math.max(1, total))}%</span>
              </button>
              {colToggle(s.name)}
            </div>
            {open === s.name && (
              <ul class="top-values">
                {s.top.map((t) => (
                  <li key={t.value}>
                    <button type="button" class="link" data-testid="field-value" title={`Add ${s.name}="${t.value}" to the query`} onClick={() => onFilter(s.name, t.value)}>
                      <span class="val">{t.value === "" ? "(empty)" : t.value}</span> <span class="muted">{t.count}</span>
                    </button>
                    <button type="button" class="icon" data-testid="field-exclude" aria-label={`Exclude ${s.name}="${t.value}"`} title={`Add ${s.name}!="${t.value}" to the query`} onClick={() => onFilter(s.name, t.value, true)}>
                      ≠
                    </button>
                  </li>
                ))}
                {s.distinct > s.top.length && <li class="muted">{s.distinct - s.top.length} more values</li>}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </aside>
  );
}
