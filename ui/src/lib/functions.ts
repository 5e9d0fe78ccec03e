// The query functions the server compiles (server/src/query/compile/), with their
// parameters: one table for the editor's highlighting (known vs unknown names) and its
// autocomplete. The first parameter is the unnamed one (`groupBy(host)` = `groupBy(field=host)`).

export type FunctionKind = "aggregate" | "transform" | "filter";

export interface QueryFunction {
  name: string;
  kind: FunctionKind;
  params: string[];
  summary: string;
}

const f = (name: string, kind: FunctionKind, params: string[], summary: string): QueryFunction => ({ name, kind, params, summary });

export const FUNCTIONS: QueryFunction[] = [
  f("count", "aggregate", ["field", "distinct", "as"], "Number of events (or of distinct values of a field)"),
  f("sum", "aggregate", ["field", "as"], "Sum of a field"),
  f("avg", "aggregate", ["field", "as"], "Average of a field"),
  f("min", "aggregate", ["field", "as"], "Smallest value of a field"),
  f("max", "aggregate", ["field", "as"], "Largest value of a field"),
  f("stdDev", "aggregate", ["field", "as"], "Standard deviation of a field"),
  f("percentile", "aggregate", ["field", "percentiles", "as", "accuracy"], "Percentiles of a field (default 50, 75, 99)"),
  f("stats", "aggregate", ["function"], "Several aggregates at once"),
  f("groupBy", "aggregate", ["field", "function", "limit"], "Groups events by fields and aggregates each group"),
  f("top", "aggregate", ["field", "limit", "sum", "max", "as", "percent", "rest", "error"], "Most frequent values of fields (or largest sum=/max=)"),
  f("timeChart", "aggregate", ["series", "function", "span", "buckets", "limit", "unit", "timezone", "minSpan"], "Aggregates per time bucket, per series"),
  f("bucket", "aggregate", ["span", "field", "function", "buckets", "limit", "unit", "timezone", "minSpan"], "Aggregates per time bucket and group"),
  f("collect", "aggregate", ["fields", "limit", "separator", "multival"], "Collects the values of fields"),
  f("range", "aggregate", ["field", "as"], "Largest minus smallest value of a field"),
  f("selectLast", "aggregate", ["fields"], "Per field, its value in the newest event that has it"),
  f("selectFromMax", "aggregate", ["field", "include"], "Fields of the event with the largest value of a field"),
  f("selectFromMin", "aggregate", ["field", "include"], "Fields of the event with the smallest value of a field"),
  f("session", "aggregate", ["function", "maxpause"], "Aggregates per session of events no further than maxpause apart"),
  f("sankey", "aggregate", ["source", "target", "weight"], "Flows between two fields (source, target, weight)"),
  f("worldMap", "aggregate", ["lat", "lon", "magnitude", "precision", "ip"], "Events per geohash cell of their coordinates"),
  f("head", "aggregate", ["limit"], "The oldest events"),
  f("tail", "aggregate", ["limit"], "The newest events"),
  f("sort", "aggregate", ["field", "order", "limit", "type", "reverse"], "Sorts events by fields"),
  f("table", "aggregate", ["fields", "sortby", "order", "limit", "type", "reverse"], "A table of the given fields"),
  f("select", "transform", ["fields"], "Keeps only the given fields"),
  f("drop", "transform", ["fields"], "Removes fields"),
  f("rename", "transform", ["field", "as"], "Renames a field"),
  f("eval", "transform", [], "Computes fields: eval(x = a * 2)"),
  f("regex", "transform", ["regex", "field", "strict", "flags", "repeat", "limit"], "Extracts named groups of a regex into fields"),
  f("parseJson", "transform", ["field", "prefix", "as", "include", "exclude", "excludeEmpty"], "Parses a JSON field into fields"),
  f("kvParse", "transform", ["field", "as", "override", "excludeEmpty"], "Parses key=value pairs into fields"),
  f("replace", "transform", ["regex", "with", "field", "as", "flags", "replacement"], "Replaces regex matches"),
  f("format", "transform", ["format", "field", "as"], "printf-style formatting of fields"),
  f("formatTime", "transform", ["format", "field", "as", "timezone", "unit", "locale"], "Formats a timestamp"),
  f("parseTimestamp", "transform", ["format", "field", "as", "timezone", "timezoneAs", "addErrors"], "Parses a timestamp into @timestamp"),
  f("lowercase", "transform", ["field", "include", "locale", "as"], "Lower-cases fields"),
  f("uppercase", "transform", ["field", "include", "locale", "as"], "Upper-cases fields"),
  f("length", "transform", ["field", "as"], "Length of a field"),
  f("splitString", "transform", ["field", "by", "as", "index"], "Splits a field by a separator"),
  f("concat", "transform", ["field", "as"], "Concatenates fields"),
  f("round", "transform", ["field", "as", "how"], "Rounds a number (round, floor, ceil)"),
  f("if", "transform", ["condition", "then", "else", "as"], "A value chosen by a condition"),
  f("default", "transform", ["field", "value", "replaceEmpty"], "A value for fields that are missing"),
  f("split", "transform", ["field", "strip"], "One event per element of an array field"),
  f("parseCsv", "transform", ["field", "columns", "delimiter", "trim", "excludeEmpty"], "Parses a CSV line into the named columns"),
  f("parseXml", "transform", ["field", "prefix"], "Parses an XML field into fields"),
  f("parseUrl", "transform", ["field", "as"], "Splits a URL into scheme, host, port, path, query, fragment"),
  f("parseUri", "transform", ["field", "as"], "Splits a URI into its components"),
  f("parseInt", "transform", ["field", "as", "radix", "endian"], "An integer in another radix (default 16) as decimal"),
  f("parseHexString", "transform", ["field", "as", "charset"], "Hex bytes as text"),
  f("base64Encode", "transform", ["field", "as", "charset"], "Base64 of a field"),
  f("base64Decode", "transform", ["field", "as", "charset"], "Decodes a base64 field"),
  f("urlEncode", "transform", ["field", "as"], "URL-encodes a field"),
  f("urlDecode", "transform", ["field", "as"], "Decodes a URL-encoded field"),
  f("crypto:md5", "transform", ["field", "as"], "MD5 of fields, hex"),
  f("crypto:sha1", "transform", ["field", "as"], "SHA-1 of fields, hex"),
  f("crypto:sha256", "transform", ["field", "as"], "SHA-256 of fields, hex"),
  f("hash", "transform", ["field", "as", "limit", "seed"], "A non-cryptographic hash of fields"),
  f("formatDuration", "transform", ["field", "as", "from", "precision"], "A duration as 6h30m52s553ms"),
  f("duration", "transform", ["duration", "as"], "A duration like 1h in milliseconds"),
  f("eventSize", "transform", ["as"], "Bytes of the event's fields"),
  f("coalesce", "transform", ["expressions", "as", "ignoreEmpty"], "The first expression with a value"),
  f("now", "transform", ["as"], "The current time"),
  f("time:start", "transform", ["as"], "The start of the search range"),
  f("time:end", "transform", ["as"], "The end of the search range"),
  ...["year", "month", "monthName", "dayOfMonth", "dayOfYear", "dayOfWeek", "dayOfWeekName", "weekOfYear", "weekYear", "hour", "minute", "second", "millisecond"].map((p) =>
    f(`time:${p}`, "transform", ["field", "as", "timezone"], `The ${p} of a timestamp, in a time zone`),
  ),
  ...["abs", "ceil", "floor", "sqrt", "cbrt", "exp", "expm1", "log10", "log1p", "log2", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "deg2rad", "rad2deg"].map((p) =>
    f(`math:${p}`, "transform", ["field", "as"], `math: ${p} of a number`),
  ),
  f("math:log", "transform", ["field", "as", "base"], "Logarithm of a number (natural, or to base)"),
  f("math:pow", "transform", ["field", "as", "exponent"], "A number to a power"),
  f("math:mod", "transform", ["field", "as", "divisor"], "Remainder of a division"),
  f("array:length", "transform", ["array", "as"], "Number of elements of an array"),
  f("array:union", "transform", ["array", "as"], "Distinct elements of several arrays"),
  f("array:filter", "transform", ["array", "var", "function", "asArray"], "Elements for which a function keeps the event"),
  f("in", "filter", ["field", "values", "ignoreCase"], "Keeps events whose field is one of the values"),
  f("test", "filter", ["expression"], "Keeps events for which an expression is true"),
  f("wildcard", "filter", ["pattern", "field", "ignoreCase", "includeEverythingOnAsterisk"], "Keeps events matching a * pattern"),
  f("cidr", "filter", ["field", "subnet", "negate"], "Keeps events whose IP is in the subnets"),
  f("match", "filter", ["file", "field", "column", "include", "strict", "mode", "ignoreCase", "nrows", "glob", "table"], "Joins events with a lookup file's rows (keeps only matches unless strict=false)"),
  f("readFile", "aggregate", ["file", "include", "limit", "table"], "Outputs the rows of lookup files as events"),
  f("array:contains", "filter", ["array", "value"], "Keeps events whose array holds a value"),
  f("text:contains", "filter", ["string", "substring"], "Keeps events whose string contains a substring"),
];

/** Names the server also accepts for some functions. */
const ALIASES: Record<string, string> = { lower: "lowercase", upper: "uppercase" };

const byName = new Map(FUNCTIONS.map((fn) => [fn.name.toLowerCase(), fn]));

/** The function called `name` (case-insensitive, as the server matches), if there is one. */
export function findFunction(name: string): QueryFunction | undefined {
  const n = name.toLowerCase();
  return byName.get(ALIASES[n] ?? n);
}

/** `groupBy(field, function, limit)`. */
export function signature(fn: QueryFunction): string {
  return `${fn.name}(${fn.params.join(", ")})`;
}
