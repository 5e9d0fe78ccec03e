// Tokenizer for syntax highlighting of the LogScale query language. Lossless (the tokens'
// text concatenates back to the input) and total (never throws): it colours what the user
// typed, the server's parser decides what is valid.

export type TokenType =
  | "comment"
  | "string"
  | "regex"
  | "pipe"
  | "function"
  | "keyword"
  | "field"
  | "tag"
  | "number"
  | "operator"
  | "param"
  | "punct"
  | "space"
  | "text";

export interface Token {
  type: TokenType;
  text: string;
  start: number;
}

const KEYWORDS = new Set(["and", "or", "not", "case", "match", "as"]);
const IDENT = /[A-Za-z0-9_@.\-*\[\]]/;
const OPS = ["=>", ":=", "!=", "<=", ">=", "=", "<", ">", "!"];

/** A `/` starts a regex where a term can start (not after a value, where it divides). */
function regexAllowed(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.type === "pipe" || prev.type === "operator" || prev.type === "keyword") return true;
  if (prev.type === "punct") return prev.text === "(" || prev.text === "," || prev.text === "{" || prev.text === ";" || prev.text === "[";
  return false;
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const push = (type: TokenType, end: number) => {
    out.push({ type, text: src.slice(i, end), start: i });
    i = end;
  };
  const lastSignificant = () => {
    for (let k = out.length - 1; k >= 0; k--) if (out[k].type !== "space" && out[k].type !== "comment") return out[k];
    return undefined;
  };
  while (i < src.length) {
    const c = src[i];
    const rest = src.slice(i);
    if (/\s/.test(c)) {
      let j = i;
      while (j < src.length && /\s/.test(src[j])) j++;
      push("space", j);
    } else if (rest.startsWith("//")) {
      const nl = src.indexOf("\n", i);
      push("comment", nl < 0 ? src.length : nl);
    } else if (rest.startsWith("/*")) {
      const e = src.indexOf("*/", i + 2);
      push("comment", e < 0 ? src.length : e + 2);
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === "\\" ? 2 : 1;
      push("string", Math.min(j + 1, src.length));
    } else if (c === "/" && regexAllowed(lastSignificant())) {
      let j = i + 1;
      while (j < src.length && src[j] !== "/" && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      j = Math.min(j + 1, src.length);
      while (j < src.length && /[a-z]/.test(src[j])) j++;
      push("regex", j);
    } else if (c === "|") {
      push("pipe", i + 1);
    } else if (c === "#" && i + 1 < src.length && IDENT.test(src[i + 1])) {
      let j = i + 1;
      while (j < src.length && IDENT.test(src[j])) j++;
      push("tag", j);
    } else if (c === "?" && i + 1 < src.length && /[A-Za-z_]/.test(src[i + 1])) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j])) j++;
      push("param", j);
    } else if ("()[]{},;".includes(c)) {
      push("punct", i + 1);
    } else if (OPS.some((o) => rest.startsWith(o))) {
      const op = OPS.find((o) => rest.startsWith(o))!;
      push("operator", i + op.length);
    } else if (IDENT.test(c)) {
      let j = i;
      // A namespaced name (`math:abs`, `array:contains`): a colon followed by a letter, never `:=`.
      while (j < src.length && (IDENT.test(src[j]) || (src[j] === ":" && /[A-Za-z]/.test(src[j + 1] ?? "")))) j++;
      const word = src.slice(i, j);
      let k = j;
      while (k < src.length && (src[k] === " " || src[k] === "\t")) k++;
      const next = src.slice(k, k + 2);
      let type: TokenType = "text";
      if (src[k] === "(") type = "function";
      else if (KEYWORDS.has(word.toLowerCase()) && lastSignificant()?.type !== "operator") type = "keyword";
      else if (/^-?\d+(\.\d+)?$/.test(word)) type = "number";
      else if (next.startsWith("=") && next !== "=>" || next === "!=" || next === ":=" || src[k] === "<" || src[k] === ">")
        type = "field";
      push(type, j);
    } else {
      push("text", i + 1);
    }
  }
  return out;
}

/** Character index of a byte offset in `src` (the server reports UTF-8 byte positions). */
export function charIndexOfByte(src: string, byte: number): number {
  const enc = new TextEncoder();
  let bytes = 0;
  let idx = 0;
  for (const ch of src) {
    if (bytes >= byte) return idx;
    bytes += enc.encode(ch).length;
    idx += ch.length;
  }
  return src.length;
}

/** The position and message of a server parse error ("... at position N"), if it has one. */
export function parseErrorPosition(src: string, message: string): { index: number; message: string } | null {
  const m = /at position (\d+)/.exec(message);
  if (!m) return null;
  return { index: charIndexOfByte(src, Number(m[1])), message: message.replace(/^query parse error:\s*/, "") };
}
