// The field sidebar: fields present in the shown events, each with its top values; a click on
// a value adds `field="value"` to the query.
import { useState } from "preact/hooks";
import type { FieldStat } from "../lib/fields";

export function FieldSidebar({ stats, total, onFilter }: { stats: FieldStat[]; total: number; onFilter: (f: string, v: string) => void }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <aside class="fields" data-testid="fields">
      <h3>Fields</h3>
      {stats.length === 0 && <div class="muted">No fields</div>}
      <ul>
        {stats.map((s) => (
          <li key={s.name} data-field={s.name}>
            <button class="link field-name" onClick={() => setOpen(open === s.name ? null : s.name)}>
              {s.name} <span class="muted">{Math.round((100 * s.count) / Math.max(1, total))}%</span>
            </button>
            {open === s.name && (
              <ul class="top-values">
                {s.top.map((t) => (
                  <li key={t.value}>
                    <button class="link" data-testid="field-value" title={`Add ${s.name}="${t.value}" to the query`} onClick={() => onFilter(s.name, t.value)}>
                      <span class="val">{t.value === "" ? "(empty)" : t.value}</span> <span class="muted">{t.count}</span>
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
