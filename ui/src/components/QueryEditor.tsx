// The query box: a textarea over a highlighted copy of its text (same font and metrics, so the
// colours line up under the caret), with the parser's error marked at its position, and an
// autocomplete list of fields seen in the result and of functions with their parameters.
// Enter runs the query (or takes the chosen suggestion); Shift+Enter adds a line;
// Ctrl+Space lists every suggestion; Escape closes the list.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { accept, complete, Completion } from "../lib/autocomplete";
import { findFunction } from "../lib/functions";
import { tokenize } from "../lib/highlight";

export function QueryEditor({
  value,
  onChange,
  onRun,
  error,
  fields,
  inputRef,
}: {
  value: string;
  onChange: (v: string) => void;
  onRun: () => void;
  error: { index: number; message: string } | null;
  /** Field names for autocomplete. */
  fields: string[];
  inputRef?: { current: HTMLTextAreaElement | null };
}) {
  const pre = useRef<HTMLPreElement>(null);
  const ta = useRef<HTMLTextAreaElement | null>(null);
  const [comp, setComp] = useState<Completion | null>(null);
  const [active, setActive] = useState(0);
  const caretAfter = useRef<number | null>(null);

  useLayoutEffect(() => {
    if (caretAfter.current !== null && ta.current) {
      ta.current.setSelectionRange(caretAfter.current, caretAfter.current);
      caretAfter.current = null;
    }
  }, [value]);
  useEffect(() => setActive(0), [comp?.from, comp?.items.length]);

  const suggest = (text: string, caret: number, explicit = false) => setComp(complete(text, caret, fields, explicit));
  const take = (i: number) => {
    if (!comp) return;
    const r = accept(value, comp, comp.items[i]);
    caretAfter.current = r.caret;
    onChange(r.text);
    setComp(null);
    ta.current?.focus();
  };

  const tokens = tokenize(value);
  const parts = [];
  for (const [i, t] of tokens.entries()) {
    const cls = t.type === "function" && !findFunction(t.text) ? "tok-function unknown-fn" : `tok-${t.type}`;
    const errIn = error && error.index >= t.start && error.index < t.start + t.text.length;
    if (errIn) {
      const k = error!.index - t.start;
      parts.push(
        <span key={i} class={cls}>
          {t.text.slice(0, k)}
          <span class="err-mark">{t.text[k]}</span>
          {t.text.slice(k + 1)}
        </span>,
      );
    } else {
      parts.push(
        <span key={i} class={cls}>
          {t.text}
        </span>,
      );
    }
  }
  // A mark past the end (e.g. "expected ')'") is drawn on a placeholder space.
  if (error && error.index >= value.length) parts.push(<span class="err-mark"> </span>);
  const lines = Math.min(12, Math.max(1, value.split("\n").length));
  const open = comp !== null && comp.items.length > 0;
  return (
    <div class="query-editor">
      <div class="qe-box" style={{ height: `${lines * 1.5 + 1}em` }}>
        <pre ref={pre} aria-hidden="true" class="qe-highlight">
          {parts}
          {"\n"}
        </pre>
        <textarea
          ref={(el) => {
            ta.current = el;
            if (inputRef) inputRef.current = el;
          }}
          class="qe-input"
          data-testid="query"
          aria-label="Query"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls="qe-suggestions"
          aria-activedescendant={open ? `qe-s-${active}` : undefined}
          spellcheck={false}
          value={value}
          placeholder="Search: free text, field=value, | groupBy(field), | timeChart() …"
          onInput={(e) => {
            const el = e.target as HTMLTextAreaElement;
            onChange(el.value);
            suggest(el.value, el.selectionStart);
          }}
          onBlur={() => setTimeout(() => setComp(null), 150)}
          onScroll={(e) => {
            if (pre.current) pre.current.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
          }}
          onKeyDown={(e) => {
            const el = e.target as HTMLTextAreaElement;
            if (e.key === " " && e.ctrlKey) {
              e.preventDefault();
              suggest(value, el.selectionStart, true);
              return;
            }
            if (open) {
              if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                e.preventDefault();
                const n = comp!.items.length;
                setActive((a) => (a + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
                return;
              }
              if ((e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey) || e.key === "Tab") {
                e.preventDefault();
                take(active);
                return;
              }
              if (e.key === "Escape") {
                e.preventDefault();
                setComp(null);
                return;
              }
            }
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              setComp(null);
              onRun();
            }
          }}
        />
      </div>
      {open && (
        <ul class="qe-suggestions card" id="qe-suggestions" role="listbox" aria-label="Suggestions" data-testid="suggestions">
          {comp!.items.map((s, i) => (
            <li
              key={s.kind + s.label}
              id={`qe-s-${i}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? "active" : ""}
              data-kind={s.kind}
              onMouseDown={(e) => {
                e.preventDefault();
                take(i);
              }}
            >
              <span class={`sg-kind sg-${s.kind}`}>{s.kind === "function" ? "ƒ" : s.kind === "param" ? "=" : "#"}</span>
              <span class="sg-label">{s.label}</span>
              {s.detail && <span class="sg-detail">{s.detail}</span>}
            </li>
          ))}
        </ul>
      )}
      {error && (
        <div class="error query-error" role="alert" data-testid="query-error">
          {error.message}
        </div>
      )}
    </div>
  );
}
