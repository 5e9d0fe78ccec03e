//! Actions as GraphQL types: LogScale's `Action` interface and one type per action kind
//! (`WebhookAction`, `SlackAction`, `EmailAction`, `HumioRepoAction`, `PagerDutyAction`,
//! `OpsGenieAction`), built from the stored [`ActionSpec`]s.

use async_graphql::{Context, Error, Interface, SimpleObject};

use crate::alerts::model::{self, ActionSpec, StoredAction};
use crate::api::graphql::node;

#[derive(SimpleObject, Clone)]
pub struct HttpHeaderEntry {
    header: String,
    value: String,
}

#[derive(SimpleObject, Clone)]
pub struct SlackFieldEntry {
    field_name: String,
    value: String,
}

#[derive(SimpleObject, Clone)]
pub struct WebhookAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    url: String,
    method: String,
    headers: Vec<HttpHeaderEntry>,
    body_template: String,
    #[graphql(name = "ignoreSSL")]
    ignore_ssl: bool,
    use_proxy: bool,
}

#[derive(SimpleObject, Clone)]
pub struct SlackAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    url: String,
    fields: Vec<SlackFieldEntry>,
    use_proxy: bool,
}

#[derive(SimpleObject, Clone)]
pub struct EmailAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    recipients: Vec<String>,
    subject_template: Option<String>,
    body_template: Option<String>,
    attach_csv: bool,
    use_proxy: bool,
}

#[derive(SimpleObject, Clone)]
pub struct HumioRepoAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    /// Tokens are stored hashed: always `"********"`.
    ingest_token: String,
    /// The repository the token ingests into (null when the token was removed).
    repository_name: Option<String>,
}

#[derive(SimpleObject, Clone)]
pub struct PagerDutyAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    severity: String,
    routing_key: String,
    use_proxy: bool,
}

#[derive(SimpleObject, Clone)]
pub struct OpsGenieAction {
    id: String,
    name: String,
    display_name: String,
    is_allowed_to_run: bool,
    api_url: String,
    genie_key: String,
    use_proxy: bool,
}

/// LogScale's `Action` interface (the variant names are LogScale's type names).
#[allow(clippy::duplicated_attributes, clippy::enum_variant_names)]
#[derive(Interface, Clone)]
#[graphql(
    field(name = "id", ty = "&String"),
    field(name = "name", ty = "&String"),
    field(name = "display_name", ty = "&String"),
    field(name = "is_allowed_to_run", ty = "&bool")
)]
pub enum Action {
    WebhookAction(WebhookAction),
    SlackAction(SlackAction),
    EmailAction(EmailAction),
    HumioRepoAction(HumioRepoAction),
    PagerDutyAction(PagerDutyAction),
    OpsGenieAction(OpsGenieAction),
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The GraphQL view of a stored action.
pub fn to_graphql(ctx: &Context<'_>, a: StoredAction) -> Action {
    let (id, name) = (a.id, a.name);
    let display_name = name.clone();
    let is_allowed_to_run = true;
    match a.spec {
        ActionSpec::Webhook {
            method,
            url,
            headers,
            body_template,
            ignore_ssl,
            use_proxy,
        } => Action::WebhookAction(WebhookAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            url,
            method,
            headers: headers
                .into_iter()
                .map(|(header, value)| HttpHeaderEntry { header, value })
                .collect(),
            body_template,
            ignore_ssl,
            use_proxy,
        }),
        ActionSpec::Slack {
            url,
            fields,
            use_proxy,
        } => Action::SlackAction(SlackAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            url,
            fields: fields
                .into_iter()
                .map(|(field_name, value)| SlackFieldEntry { field_name, value })
                .collect(),
            use_proxy,
        }),
        ActionSpec::Email {
            recipients,
            subject_template,
            body_template,
            attach_csv,
            use_proxy,
        } => Action::EmailAction(EmailAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            recipients,
            subject_template: opt(&subject_template),
            body_template: opt(&body_template),
            attach_csv,
            use_proxy,
        }),
        ActionSpec::HumioRepo { ingest_token_hash } => Action::HumioRepoAction(HumioRepoAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            ingest_token: "********".into(),
            repository_name: node(ctx).global.read(|s| {
                s.ingest_token_by_hash(&ingest_token_hash)
                    .map(|t| t.repo.clone())
            }),
        }),
        ActionSpec::PagerDuty {
            severity,
            routing_key,
            use_proxy,
        } => Action::PagerDutyAction(PagerDutyAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            severity,
            routing_key,
            use_proxy,
        }),
        ActionSpec::OpsGenie {
            api_url,
            genie_key,
            use_proxy,
        } => Action::OpsGenieAction(OpsGenieAction {
            id,
            name,
            display_name,
            is_allowed_to_run,
            api_url,
            genie_key,
            use_proxy,
        }),
    }
}

/// The actions of `repo` (an error when it does not exist).
pub fn list(ctx: &Context<'_>, repo: &str) -> Result<Vec<StoredAction>, Error> {
    node(ctx)
        .global
        .read(|s| {
            s.search_domain_exists(repo)
                .then(|| model::actions(s, repo))
        })
        .ok_or_else(|| Error::new(format!("repository or view {repo:?} does not exist")))
}
