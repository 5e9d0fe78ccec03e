// Time range picker: presets (last 15 min … 30 days) and an absolute from–to, read and shown
// in the chosen time zone.
import { useState } from "preact/hooks";
import { describe, fromLocalInput, PRESETS, resolve, TimeRange, toLocalInput } from "../lib/timerange";

export function TimePicker({ value, zone, onChange }: { value: TimeRange; zone?: string; onChange: (r: TimeRange) => void }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const toggle = () => {
    if (!open) {
      const [s, e] = resolve(value);
      setFrom(toLocalInput(s, zone));
      setTo(toLocalInput(e, zone));
    }
    setOpen(!open);
  };
  const applyAbsolute = () => {
    const s = fromLocalInput(from, zone);
    const e = fromLocalInput(to, zone);
    if (s === null || e === null || e <= s) return;
    onChange({ start: String(s), end: String(e) });
    setOpen(false);
  };
  return (
    <div class="timepicker">
      <button type="button" data-testid="timepicker" aria-expanded={open} aria-label={`Time range: ${describe(value, zone)}`} onClick={toggle}>
        {describe(value, zone)} ▾
      </button>
      {open && (
        <div class="tp-menu card" role="group" aria-label="Time range" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
          {PRESETS.map((p) => (
            <button
              type="button"
              key={p.start}
              class={value.start === p.start && value.end === "now" ? "link active" : "link"}
              onClick={() => {
                onChange({ start: p.start, end: "now" });
                setOpen(false);
              }}
            >
              {p.label}
            </button>
          ))}
          <div class="tp-abs">
            <label>
              From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </label>
            <label>
              To <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
            </label>
            <button type="button" onClick={applyAbsolute} disabled={(fromLocalInput(to, zone) ?? 0) <= (fromLocalInput(from, zone) ?? 0)}>
              Apply
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
