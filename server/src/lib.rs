//! The Strata server: one node's data flow (ingest → queue → digest → segments → merge →
//! search) and its HTTP API. `main.rs` only parses flags and calls [`node::run`] or
//! [`loadgen::run`]; tests drive the built binary.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod bucket;
pub mod cluster;
pub mod config;
pub mod ctx;
pub mod digest;
pub mod error;
pub mod housekeeping;
pub mod ingest;
pub mod loadgen;
pub mod lookup;
pub mod merge;
pub mod metrics;
pub mod node;
pub mod query;
pub mod queue;
pub mod retention;
pub mod search;
pub mod store;
pub mod text;
