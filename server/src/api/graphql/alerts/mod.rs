//! Alerts over GraphQL, with LogScale's names: actions (`actions.rs` types,
//! `action_mutation.rs`), aggregate alerts, filter alerts and scheduled searches
//! (`triggers.rs` types and `searchDomain`, `trigger_inputs.rs`, `trigger_mutation.rs`).
//! The model, evaluation and sending live in `crate::alerts`.

mod action_mutation;
mod actions;
mod trigger_inputs;
mod trigger_mutation;
mod triggers;

pub use action_mutation::ActionMutation;
pub use trigger_mutation::AlertMutation;
pub use triggers::AlertQuery;
