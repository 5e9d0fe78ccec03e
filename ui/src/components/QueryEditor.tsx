// The query box: a textarea over a highlighted copy of its text (same font and metrics, so the
// colours line up under the caret), with the parser's error marked at its position. Enter
// runs the query; Shift+Enter adds a line.
import { useRef } from "preact/hooks";
import { tokenize } from "../lib/highlight";

export function QueryEditor({
  value,
  onChange,
  onRun,
  error,
}: {
  value: string;
  onChange: (v: string) => void;
  onRun: () => void;
  error: { index: number; message: string } | null;
}) {
  const pre = useRef<HTMLPreElement>(null);
  const tokens = tokenize(value);
  const parts = [];
  for (const [i, t] of tokens.entries()) {
    const errIn = error && error.index >= t.start && error.index < t.start + t.text.length;
    if (errIn) {
      const k = error!.index - t.start;
      parts.push(
        <span key={i} class={`tok-${t.type}`}>
          {t.text.slice(0, k)}
          <span class="err-mark">{t.text[k]}</span>
          {t.text.slice(k + 1)}
        </span>,
      );
    } else {
      parts.push(
        <span key={i} class={`tok-${t.type}`}>
          {t.text}
        </span>,
      );
    }
  }
  // A mark past the end (e.g. "expected ')'") is drawn on a placeholder space.
  if (error && error.index >= value.length) parts.push(<span class="err-mark"> </span>);
  const lines = Math.min(12, Math.max(1, value.split("\n").length));
  return (
    <div class="query-editor">
      <div class="qe-box" style={{ height: `${lines * 1.5 + 1}em` }}>
        <pre ref={pre} aria-hidden="true" class="qe-highlight">
          {parts}
          {"\n"}
        </pre>
        <textarea
          class="qe-input"
          data-testid="query"
          spellcheck={false}
          value={value}
          placeholder="Search: free text, field=value, | groupBy(field), | timeChart() …"
          onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
          onScroll={(e) => {
            if (pre.current) pre.current.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              onRun();
            }
          }}
        />
      </div>
      {error && (
        <div class="error query-error" role="alert" data-testid="query-error">
          {error.message}
        </div>
      )}
    </div>
  );
}
