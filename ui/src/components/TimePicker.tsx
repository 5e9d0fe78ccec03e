// Time range picker: presets (last 15 min … 30 days) and an absolute from–to.
import { useState } from "preact/hooks";
import { describe, fromLocalInput, PRESETS, resolve, TimeRange, toLocalInput } from "../lib/timerange";

export function TimePicker({ value, onChange }: { value: TimeRange; onChange: (r: TimeRange) => void }) {
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const toggle = () => {
    if (!open) {
      const [s, e] = resolve(value);
      setFrom(toLocalInput(s));
      setTo(toLocalInput(e));
    }
    setOpen(!open);
  };
  const applyAbsolute = () => {
    const s = fromLocalInput(from);
    const e = fromLocalInput(to);
    if (s === null || e === null || e <= s) return;
    onChange({ start: String(s), end: String(e) });
    setOpen(false);
  };
  return (
    <div class="timepicker">
      <button type="button" data-testid="timepicker" onClick={toggle}>
        {describe(value)} ▾
      </button>
      {open && (
        <div class="tp-menu card">
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
            <button type="button" onClick={applyAbsolute} disabled={(fromLocalInput(to) ?? 0) <= (fromLocalInput(from) ?? 0)}>
              Apply
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
