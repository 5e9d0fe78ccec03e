// Autocomplete for the query editor: which word the caret is in, what may go there (a
// function after a pipe, a parameter name inside a call, a field name almost anywhere) and
// what accepting a suggestion does to the text. Pure: the editor component renders it.
import { FUNCTIONS, findFunction, signature } from "./functions";
import { tokenize } from "./highlight";

export type SuggestionKind = "field" | "function" | "param";

export interface Suggestion {
  kind: SuggestionKind;
  label: string;
  /** Text that replaces the word. */
  insert: string;
  /** Where the caret goes, counted from the start of `insert` (its end when absent). */
  caret?: number;
  detail?: string;
}

export interface Completion {
  /** The word being completed: `text.slice(from, to)`. */
  from: number;
  to: number;
  items: Suggestion[];
}

const WORD = /[A-Za-z0-9_@.#\-\[\]]/;
const MAX_ITEMS = 50;

/**
 * Suggestions for the word at `caret` in `text`, or null where none make sense (inside a
 * string, a regex or a comment, after `=` where a value goes). With `explicit` (Ctrl+Space)
 * an empty word lists everything that fits.
 */
export function complete(text: string, caret: number, fields: string[], explicit = false): Completion | null {
  let from = caret;
  // Namespaced names (`math:abs`) include their colon; `x:=` does not.
  while (from > 0 && (WORD.test(text[from - 1]) || (text[from - 1] === ":" && /[A-Za-z]/.test(text[from] ?? "")))) from--;
  let to = caret;
  while (to < text.length && WORD.test(text[to])) to++;
  const prefix = text.slice(from, caret);
  if (!prefix && !explicit) return null;
  if (/^-?\d/.test(prefix)) return null;

  // Nothing inside a string, a regex or a comment.
  const upTo = tokenize(text.slice(0, caret));
  const at = upTo[upTo.length - 1];
  if (at && (at.type === "comment" || ((at.type === "string" || at.type === "regex") && !closed(at.text)))) return null;
  const before = tokenize(text.slice(0, from));
  const sig = before.filter((t) => t.type !== "space" && t.type !== "comment");
  const prev = sig[sig.length - 1];
  if (prev?.type === "operator" && prev.text !== "!") return null;

  // The innermost open call at the word, if any.
  const calls: (string | null)[] = [];
  for (let i = 0; i < sig.length; i++) {
    const t = sig[i];
    if (t.type === "punct" && t.text === "(") calls.push(sig[i - 1]?.type === "function" ? sig[i - 1].text : null);
    else if (t.type === "punct" && t.text === ")") calls.pop();
  }
  const call = calls.length > 0 ? calls[calls.length - 1] : null;
  const atArg = prev?.type === "punct" && (prev.text === "(" || prev.text === ",");

  const p = prefix.toLowerCase();
  const matches = (label: string) => label.toLowerCase().startsWith(p) && label !== prefix;
  const items: Suggestion[] = [];
  if (call && atArg) {
    const fn = findFunction(call);
    for (const name of fn?.params ?? []) {
      if (matches(name)) items.push({ kind: "param", label: `${name}=`, insert: `${name}=`, detail: fn ? signature(fn) : undefined });
    }
  }
  const fieldItems = fields.filter(matches).map((name): Suggestion => ({ kind: "field", label: name, insert: fieldRef(name) }));
  const fnItems = prefix.startsWith("#") || prefix.startsWith("@")
    ? []
    : FUNCTIONS.filter((fn) => matches(fn.name)).map(
        (fn): Suggestion => ({ kind: "function", label: fn.name, insert: `${fn.name}()`, caret: fn.name.length + 1, detail: `${signature(fn)} — ${fn.summary}` }),
      );
  // Right after a pipe a function is likelier than a field; elsewhere (the first stage is a
  // filter) the reverse.
  const stageStart = prev?.type === "pipe";
  if (stageStart && !call) items.push(...fnItems, ...fieldItems);
  else items.push(...fieldItems, ...fnItems);
  if (items.length === 0) return null;
  return { from, to, items: items.slice(0, MAX_ITEMS) };
}

/** The text after accepting `item` for `c`, and where the caret goes. */
export function accept(text: string, c: Completion, item: Suggestion): { text: string; caret: number } {
  let insert = item.insert;
  let caret = item.caret ?? insert.length;
  // Accepting a function before an existing "(" keeps that one.
  if (item.kind === "function" && text[c.to] === "(") {
    insert = insert.slice(0, -2);
    caret = insert.length + 1;
  }
  return { text: text.slice(0, c.from) + insert + text.slice(c.to), caret: c.from + caret };
}

/** Whether a string or regex token has its closing quote or slash. */
function closed(tok: string): boolean {
  const q = tok[0];
  for (let i = 1; i < tok.length; i++) {
    if (tok[i] === "\\") i++;
    else if (tok[i] === q) return true;
  }
  return false;
}

/** A field name as the query language accepts it (quoted when it has odd characters). */
function fieldRef(name: string): string {
  return /^#?[A-Za-z0-9_@.\-\[\]]+$/.test(name) ? name : `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Every field name seen in `rows` (events or aggregate rows), sorted. */
export function fieldNames(rows: Record<string, string>[], extra: string[] = []): string[] {
  const names = new Set(extra);
  for (const r of rows) for (const k of Object.keys(r)) names.add(k);
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
