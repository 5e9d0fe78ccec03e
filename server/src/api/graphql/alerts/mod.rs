//! Alerts over GraphQL, with LogScale's names: actions (`actions.rs` types,
//! `action_mutation.rs`), aggregate alerts, filter alerts and scheduled searches
//! (`triggers.rs` types and `searchDomain`, `trigger_inputs.rs`, `trigger_mutation.rs`), and
//! LogScale's legacy alerts (`legacy.rs`, `createAlert`).
//! The model, evaluation and sending live in `crate::alerts`.

mod action_mutation;
mod actions;
mod legacy;
mod trigger_inputs;
mod trigger_mutation;
mod triggers;

pub use action_mutation::ActionMutation;
pub use triggers::AlertQuery;

/// Every trigger mutation: aggregate and filter alerts, scheduled searches, legacy alerts.
#[derive(async_graphql::MergedObject, Default)]
pub struct AlertMutation(trigger_mutation::TriggerMutation, legacy::LegacyMutation);
