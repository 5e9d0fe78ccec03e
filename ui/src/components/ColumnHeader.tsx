// A column header of the event list: the field's name, buttons to move it left or right or
// remove it, a drag handle for reordering with the mouse, and a resize handle (drag, or the
// arrow keys when focused). Every change goes to the URL through `onChange`.
import { useRef, useState } from "preact/hooks";
import { Column, clampWidth, moveColumn, moveColumnTo, resizeColumn, toggleColumn } from "../lib/columns";

export function ColumnHeader({
  col,
  cols,
  width,
  onChange,
}: {
  col: Column;
  cols: Column[];
  /** The width it is drawn at (undefined: it takes the rest of the row). */
  width: number | undefined;
  onChange: (cols: Column[]) => void;
}) {
  const th = useRef<HTMLTableCellElement>(null);
  const [dragWidth, setDragWidth] = useState<number | null>(null);
  const i = cols.findIndex((c) => c.field === col.field);
  const current = () => dragWidth ?? width ?? th.current?.offsetWidth ?? 200;

  const startResize = (e: PointerEvent) => {
    e.preventDefault();
    const el = e.currentTarget as HTMLElement;
    el.setPointerCapture(e.pointerId);
    const x0 = e.clientX;
    const w0 = th.current?.offsetWidth ?? current();
    let w = w0;
    const move = (ev: PointerEvent) => {
      w = clampWidth(w0 + ev.clientX - x0);
      setDragWidth(w);
      const colEl = th.current?.closest("table")?.querySelector<HTMLElement>(`col[data-col="${CSS.escape(col.field)}"]`);
      if (colEl) colEl.style.width = `${w}px`;
    };
    const up = () => {
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", up);
      setDragWidth(null);
      if (w !== w0) onChange(resizeColumn(cols, col.field, w));
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  };

  const keyResize = (e: KeyboardEvent) => {
    const step = e.shiftKey ? 50 : 10;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      e.preventDefault();
      onChange(resizeColumn(cols, col.field, current() + (e.key === "ArrowRight" ? step : -step)));
    }
  };

  return (
    <th
      ref={th}
      scope="col"
      data-col={col.field}
      class="col-head"
      draggable
      onDragStart={(e) => e.dataTransfer?.setData("text/x-strata-column", col.field)}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        const from = e.dataTransfer?.getData("text/x-strata-column");
        if (from && from !== col.field) onChange(moveColumnTo(cols, from, col.field));
      }}
    >
      <span class="col-name">{col.field}</span>
      <span class="col-tools">
        <button type="button" class="icon" aria-label={`Move column ${col.field} left`} title="Move left" disabled={i === 0} onClick={() => onChange(moveColumn(cols, col.field, -1))}>
          ◀
        </button>
        <button
          type="button"
          class="icon"
          aria-label={`Move column ${col.field} right`}
          title="Move right"
          disabled={i === cols.length - 1}
          onClick={() => onChange(moveColumn(cols, col.field, 1))}
        >
          ▶
        </button>
        <button type="button" class="icon" aria-label={`Remove column ${col.field}`} title="Remove column" onClick={() => onChange(toggleColumn(cols, col.field))}>
          ✕
        </button>
      </span>
      <span
        class="col-resize"
        role="separator"
        aria-orientation="vertical"
        aria-label={`Width of column ${col.field}`}
        aria-valuenow={Math.round(current())}
        aria-valuemin={40}
        aria-valuemax={2000}
        tabIndex={0}
        title="Drag (or focus and use ← →) to resize"
        onPointerDown={startResize}
        onKeyDown={keyResize}
      />
    </th>
  );
}
