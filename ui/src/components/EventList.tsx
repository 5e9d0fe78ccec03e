// The events list: newest first, `@timestamp` and `@rawstring`, a click expands an event to all
// its fields with JSON pretty-printed. Renders at most the 200 events a job returns.
import { useState } from "preact/hooks";
import type { Event } from "../lib/fields";
import { prettyJson } from "../lib/format";
import { formatTime } from "../lib/timerange";

function EventRow({ ev, onFilter }: { ev: Event; onFilter: (f: string, v: string) => void }) {
  const [open, setOpen] = useState(false);
  const raw = ev["@rawstring"] ?? "";
  const pretty = open ? prettyJson(raw) : null;
  return (
    <li class={open ? "event open" : "event"} data-testid="event">
      <div class="event-line" onClick={() => setOpen(!open)}>
        <span class="ts">{formatTime(Number(ev["@timestamp"]))}</span>
        <span class="raw">{raw}</span>
      </div>
      {open && (
        <div class="event-detail">
          {pretty && <pre class="json">{pretty}</pre>}
          <table class="kv">
            <tbody>
              {Object.entries(ev)
                .filter(([k]) => k !== "@rawstring")
                .sort(([a], [b]) => (a < b ? -1 : 1))
                .map(([k, v]) => (
                  <tr key={k}>
                    <th>{k}</th>
                    <td>
                      {prettyJson(v) ? <pre class="json">{prettyJson(v)}</pre> : v}
                      {!k.startsWith("@") && (
                        <button class="link small" title="Filter on this value" onClick={() => onFilter(k, v)}>
                          +filter
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      )}
    </li>
  );
}

export function EventList({ events, onFilter }: { events: Event[]; onFilter: (f: string, v: string) => void }) {
  if (events.length === 0) return <div class="empty">No events in this time range.</div>;
  return (
    <ul class="events" data-testid="events">
      {events.map((e) => (
        <EventRow key={(e["@id"] ?? "") + e["@timestamp"]} ev={e} onFilter={onFilter} />
      ))}
    </ul>
  );
}
