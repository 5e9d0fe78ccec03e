// The event list: a table of the chosen columns (`@timestamp` and `@rawstring` by default),
// widths and order from the URL. A value's button offers to filter on it or exclude it; a
// row opens to all its fields (JSON pretty-printed) and to "Show in context".
import { useEffect, useRef, useState } from "preact/hooks";
import { Column, shownWidth, toggleColumn } from "../lib/columns";
import type { Event } from "../lib/fields";
import { prettyJson } from "../lib/format";
import { formatTime } from "../lib/timerange";
import { ColumnHeader } from "./ColumnHeader";

export type FilterFn = (field: string, value: string, negate?: boolean) => void;

interface Props {
  events: Event[];
  cols: Column[];
  zone: string;
  onFilter: FilterFn;
  onColumns: (cols: Column[]) => void;
  onContext?: (e: Event) => void;
  /** `@id` of an event to mark (the anchor of a context view). */
  marked?: string;
  emptyText?: string;
}

/** Filter / exclude buttons for one value (in a cell's menu and in the details). */
function FilterButtons({ field, value, onFilter, onDone }: { field: string; value: string; onFilter: FilterFn; onDone?: () => void }) {
  return (
    <>
      <button type="button" class="link small" data-testid="filter-in" onClick={() => (onFilter(field, value), onDone?.())}>
        Filter <span class="sr-only">{`on ${field} = ${value}`}</span>
      </button>
      <button type="button" class="link small" data-testid="filter-out" onClick={() => (onFilter(field, value, true), onDone?.())}>
        Exclude <span class="sr-only">{`${field} = ${value}`}</span>
      </button>
    </>
  );
}

function ValueCell({ field, value, onFilter }: { field: string; value: string; onFilter: FilterFn }) {
  const [open, setOpen] = useState(false);
  const menu = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>("button")?.focus();
  }, [open]);
  return (
    <span class="cell-value" onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button type="button" class="value-btn" aria-expanded={open} aria-haspopup="true" onClick={(e) => (e.stopPropagation(), setOpen(!open))}>
        {value}
      </button>
      {open && (
        <span class="value-menu card" ref={menu} role="group" aria-label={`Actions for ${field}=${value}`} onClick={(e) => e.stopPropagation()}>
          <FilterButtons field={field} value={value} onFilter={onFilter} onDone={() => setOpen(false)} />
        </span>
      )}
    </span>
  );
}

function Cell({ field, ev, zone, open, onFilter }: { field: string; ev: Event; zone: string; open: boolean; onFilter: FilterFn }) {
  const v = ev[field];
  if (field === "@timestamp") return <td class="ts">{formatTime(Number(v), zone)}</td>;
  if (field === "@rawstring") return <td class={open ? "raw open" : "raw"}>{v ?? ""}</td>;
  if (v === undefined) return <td class="missing" />;
  if (field.startsWith("@") && field !== "@id") return <td class="field-cell">{field.endsWith("timestamp") ? formatTime(Number(v), zone) : v}</td>;
  return (
    <td class="field-cell" data-cell={field}>
      <ValueCell field={field} value={v} onFilter={onFilter} />
    </td>
  );
}

function Details({ ev, cols, onFilter, onColumns, onContext }: { ev: Event; cols: Column[]; onFilter: FilterFn; onColumns: (c: Column[]) => void; onContext?: (e: Event) => void }) {
  const raw = ev["@rawstring"] ?? "";
  const pretty = prettyJson(raw);
  return (
    <div class="event-detail">
      {onContext && (
        <div class="detail-actions">
          <button type="button" class="secondary small" data-testid="show-context" onClick={() => onContext(ev)}>
            Show in context
          </button>
        </div>
      )}
      {pretty && <pre class="json">{pretty}</pre>}
      <table class="kv">
        <tbody>
          {Object.entries(ev)
            .filter(([k]) => k !== "@rawstring")
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, v]) => (
              <tr key={k} data-detail-field={k}>
                <th scope="row">{k}</th>
                <td>
                  {prettyJson(v) ? <pre class="json">{prettyJson(v)}</pre> : v}
                  {!k.startsWith("@") && <FilterButtons field={k} value={v} onFilter={onFilter} />}
                  <button type="button" class="link small" aria-pressed={cols.some((c) => c.field === k)} onClick={() => onColumns(toggleColumn(cols, k))}>
                    Column <span class="sr-only">{k}</span>
                  </button>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function EventRow({ ev, cols, zone, marked, ...rest }: { ev: Event; cols: Column[]; zone: string; marked: boolean; onFilter: FilterFn; onColumns: (c: Column[]) => void; onContext?: (e: Event) => void }) {
  const [open, setOpen] = useState(false);
  const row = useRef<HTMLTableRowElement>(null);
  useEffect(() => {
    if (marked) row.current?.scrollIntoView({ block: "center" });
  }, [marked]);
  return (
    <>
      <tr ref={row} class={`event${open ? " open" : ""}${marked ? " marked" : ""}`} data-testid="event" data-id={ev["@id"]} aria-current={marked ? "true" : undefined} onClick={() => setOpen(!open)}>
        <td class="expander-cell">
          <button type="button" class="icon expander" aria-expanded={open} aria-label={open ? "Hide the event's fields" : "Show the event's fields"} onClick={(e) => (e.stopPropagation(), setOpen(!open))}>
            {open ? "▾" : "▸"}
          </button>
        </td>
        {cols.map((c) => (
          <Cell key={c.field} field={c.field} ev={ev} zone={zone} open={open} onFilter={rest.onFilter} />
        ))}
      </tr>
      {open && (
        <tr class="detail-row">
          <td colSpan={cols.length + 1}>
            <Details ev={ev} cols={cols} {...rest} />
          </td>
        </tr>
      )}
    </>
  );
}

export function EventList({ events, cols, zone, marked, emptyText, ...rest }: Props) {
  if (events.length === 0) return <div class="empty">{emptyText ?? "No events in this time range."}</div>;
  return (
    <div class="events-wrap">
      <table class="events" data-testid="events">
        <colgroup>
          <col style={{ width: "28px" }} />
          {cols.map((c, i) => {
            const w = shownWidth(c, i === cols.length - 1);
            return <col key={c.field} data-col={c.field} style={w ? { width: `${w}px` } : undefined} />;
          })}
        </colgroup>
        <thead>
          <tr>
            <th scope="col">
              <span class="sr-only">Details</span>
            </th>
            {cols.map((c, i) => (
              <ColumnHeader key={c.field} col={c} cols={cols} width={shownWidth(c, i === cols.length - 1)} onChange={rest.onColumns} />
            ))}
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <EventRow key={(e["@id"] ?? "") + e["@timestamp"]} ev={e} cols={cols} zone={zone} marked={marked !== undefined && e["@id"] === marked} {...rest} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
