import { describe, expect, it } from "vitest";
import { charIndexOfByte, parseErrorPosition, tokenize } from "../src/lib/highlight";

const types = (q: string) => tokenize(q).filter((t) => t.type !== "space").map((t) => `${t.type}:${t.text}`);

describe("tokenize", () => {
  it("is lossless on any input", () => {
    for (const q of ['level=ERROR | groupBy(host) // hi', '/a\\/b/i or "x \\" y"', "((", '"unterminated', "/* open", "é ü 😀 | count()", ""]) {
      expect(tokenize(q).map((t) => t.text).join("")).toBe(q);
    }
  });

  it("classifies fields, functions, pipes, strings, tags, comments", () => {
    expect(types('#type=app level="ERROR" | groupBy(host, limit=5) // top hosts')).toEqual([
      "tag:#type",
      "operator:=",
      "text:app",
      "field:level",
      "operator:=",
      'string:"ERROR"',
      "pipe:|",
      "function:groupBy",
      "punct:(",
      "text:host",
      "punct:,",
      "field:limit",
      "operator:=",
      "number:5",
      "punct:)",
      "comment:// top hosts",
    ]);
  });

  it("tells a regex from a division", () => {
    expect(types("/err(or)?/i | x := a / 2")).toEqual(["regex:/err(or)?/i", "pipe:|", "field:x", "operator::=", "text:a", "text:/", "number:2"]);
    expect(types("msg=/time.?out/")).toEqual(["field:msg", "operator:=", "regex:/time.?out/"]);
  });

  it("marks keywords and parameters", () => {
    expect(types("a and not b or ?host")).toEqual(["text:a", "keyword:and", "keyword:not", "text:b", "keyword:or", "param:?host"]);
  });
});

describe("error positions", () => {
  it("converts the server's byte position to a character index", () => {
    expect(charIndexOfByte("abc", 2)).toBe(2);
    expect(charIndexOfByte("é|x", 3)).toBe(2);
    expect(charIndexOfByte("😀x", 4)).toBe(2);
  });
  it("reads the position out of the message", () => {
    const q = "count( | x";
    const p = parseErrorPosition(q, "query parse error: expected ')' at position 7");
    expect(p).toEqual({ index: 7, message: "expected ')' at position 7" });
    expect(parseErrorPosition(q, "repository does not exist")).toBeNull();
  });
});
