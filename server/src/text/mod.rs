//! Text helpers shared by ingest (built-in parsers, request decoding) and the query language
//! (`parseJson`, `kvParse`, `parseTimestamp`, `now()`), so that a line parsed at ingest and the
//! same line parsed at query time give the same fields. A leaf: it imports nothing from the rest
//! of the crate, which keeps `query` free of any dependency on `ingest`.

pub mod accesslog;
pub mod json;
pub mod kv;
pub mod time;

pub use accesslog::parse_accesslog;
pub use json::flatten_json;
pub use kv::parse_kv;
pub use time::now_ms;
