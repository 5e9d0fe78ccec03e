// The search page's keyboard shortcuts and the panel that lists them ("?" or the button).
import { useEffect, useRef } from "preact/hooks";

export const SHORTCUTS: [string, string][] = [
  ["Enter (in the query) · Ctrl+Enter anywhere", "Run the search"],
  ["/", "Focus the query editor"],
  ["Alt+L", "Toggle live"],
  ["Ctrl+Space (in the query)", "Show suggestions"],
  ["Esc", "Close suggestions or a menu"],
  ["?", "Show this list"],
];

const typing = (t: EventTarget | null) => t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));

/** Installs the shortcuts while the search page is shown. */
export function useShortcuts(h: { run: () => void; focus: () => void; toggleLive: () => void; help: () => void }) {
  useEffect(() => {
    const f = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        h.run();
      } else if (e.altKey && !e.ctrlKey && e.code === "KeyL") {
        e.preventDefault();
        h.toggleLive();
      } else if (!typing(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
        if (e.key === "/") {
          e.preventDefault();
          h.focus();
        } else if (e.key === "?") {
          e.preventDefault();
          h.help();
        }
      }
    };
    window.addEventListener("keydown", f);
    return () => window.removeEventListener("keydown", f);
  });
}

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const esc = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", esc);
    return () => {
      window.removeEventListener("keydown", esc);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="modal-backdrop" onClick={onClose}>
      <div
        class="modal card"
        role="dialog"
        aria-modal="true"
        aria-labelledby="shortcuts-title"
        data-testid="shortcuts"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id="shortcuts-title">Keyboard shortcuts</h2>
        <table class="list">
          <tbody>
            {SHORTCUTS.map(([k, what]) => (
              <tr key={k}>
                <th scope="row">
                  <kbd>{k}</kbd>
                </th>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" ref={close} onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
