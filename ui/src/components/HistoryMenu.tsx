// Recent queries of the signed-in user (lib/prefs.ts keeps them in localStorage by username);
// one click runs an entry again with its repository and time range.
import { useEffect, useRef, useState } from "preact/hooks";
import type { HistoryEntry } from "../lib/prefs";
import { describe } from "../lib/timerange";

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function HistoryMenu({ entries, zone, onPick, onClear }: { entries: HistoryEntry[]; zone: string; onPick: (e: HistoryEntry) => void; onClear: () => void }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (open) box.current?.querySelector<HTMLButtonElement>("button")?.focus();
  }, [open]);
  return (
    <div class="history" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button type="button" class="secondary" data-testid="history" aria-expanded={open} onClick={() => setOpen(!open)}>
        History
      </button>
      {open && (
        <div class="history-menu card" ref={box} role="group" aria-label="Recent queries">
          {entries.length === 0 && <div class="muted">No queries yet.</div>}
          <ul>
            {entries.map((e) => (
              <li key={`${e.repo}\u0000${e.query}\u0000${e.start}\u0000${e.end}`}>
                <button
                  type="button"
                  class="link history-entry"
                  data-testid="history-entry"
                  data-query={e.query}
                  onClick={() => {
                    setOpen(false);
                    onPick(e);
                  }}
                >
                  <code>{e.query || "(all events)"}</code>
                  <span class="muted small">
                    {e.repo} · {describe({ start: e.start, end: e.end }, zone)} · {ago(e.at)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {entries.length > 0 && (
            <button type="button" class="link small" onClick={onClear}>
              Clear history
            </button>
          )}
        </div>
      )}
    </div>
  );
}
