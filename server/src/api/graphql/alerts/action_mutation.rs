//! Action mutations with LogScale's names: `createWebhookAction`, `createSlackAction`,
//! `createEmailAction`, `createHumioRepoAction`, `createPagerDutyAction`,
//! `createOpsGenieAction`, their `update…` twins, `deleteAction` and `testAction` (sends a
//! sample trigger). Inputs are checked (errors name the field) before anything is published.

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};
use strata_global::{GlobalEvent, ItemKind};

use super::actions::{list, to_graphql, Action};
use crate::alerts::model::{self, ActionSpec, StoredAction};
use crate::api::graphql::{node, publish, require_view, valid_name};
use crate::auth::ViewPermission;

const MAX_TEMPLATE_BYTES: usize = 64 << 10;

fn check_url(what: &str, u: &str) -> Result<(), Error> {
    match url::Url::parse(u) {
        Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => Ok(()),
        Ok(_) => Err(Error::new(format!(
            "{what} {u:?} must be an http:// or https:// URL"
        ))),
        Err(e) => Err(Error::new(format!("{what} {u:?} is not a URL: {e}"))),
    }
}

fn check_template(what: &str, t: &str) -> Result<(), Error> {
    if t.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::new(format!("{what} is longer than 64 KiB")));
    }
    Ok(())
}

fn nonempty(what: &str, v: &str) -> Result<(), Error> {
    if v.trim().is_empty() {
        return Err(Error::new(format!("{what} must not be empty")));
    }
    Ok(())
}

/// Checks an action's settings; errors name the field.
fn validate(ctx: &Context<'_>, spec: &ActionSpec) -> Result<(), Error> {
    match spec {
        ActionSpec::Webhook {
            method,
            url,
            headers,
            body_template,
            ..
        } => {
            check_url("url", url)?;
            let m = method.to_ascii_uppercase();
            if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&m.as_str()) {
                return Err(Error::new(format!(
                    "method {method:?} must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
                )));
            }
            for (h, v) in headers {
                reqwest::header::HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                    Error::new(format!("headers: {h:?} is not a valid header name"))
                })?;
                if v.contains(['\r', '\n']) {
                    return Err(Error::new(format!(
                        "headers: the value of {h:?} contains a line break"
                    )));
                }
            }
            check_template("bodyTemplate", body_template)
        }
        ActionSpec::Slack { url, fields, .. } => {
            check_url("url", url)?;
            for (f, v) in fields {
                nonempty("fields: fieldName", f)?;
                check_template("fields: value", v)?;
            }
            Ok(())
        }
        ActionSpec::Email {
            recipients,
            subject_template,
            body_template,
            ..
        } => {
            if recipients.is_empty() {
                return Err(Error::new(
                    "recipients must name at least one email address",
                ));
            }
            for r in recipients {
                r.parse::<lettre::message::Mailbox>().map_err(|e| {
                    Error::new(format!("recipients: {r:?} is not an email address: {e}"))
                })?;
            }
            check_template("subjectTemplate", subject_template)?;
            check_template("bodyTemplate", body_template)
        }
        ActionSpec::HumioRepo { ingest_token_hash } => {
            let known = node(ctx)
                .global
                .read(|s| s.ingest_token_by_hash(ingest_token_hash).is_some());
            if !known {
                return Err(Error::new("ingestToken is not a valid ingest token"));
            }
            Ok(())
        }
        ActionSpec::PagerDuty {
            severity,
            routing_key,
            ..
        } => {
            if !["critical", "error", "warning", "info"].contains(&severity.as_str()) {
                return Err(Error::new(format!(
                    "severity {severity:?} must be critical, error, warning or info"
                )));
            }
            nonempty("routingKey", routing_key)
        }
        ActionSpec::OpsGenie {
            api_url, genie_key, ..
        } => {
            check_url("apiUrl", api_url)?;
            nonempty("genieKey", genie_key)
        }
    }
}

/// Creates (`id` None) or replaces action `id` of `repo` after checking it.
async fn put(
    ctx: &Context<'_>,
    repo: String,
    id: Option<String>,
    name: String,
    spec: ActionSpec,
) -> Result<Action, Error> {
    require_view(ctx, &repo, ViewPermission::ChangeActions)?;
    valid_name("action", &name)?;
    validate(ctx, &spec)?;
    let existing = list(ctx, &repo)?;
    if existing
        .iter()
        .any(|a| a.name == name && Some(&a.id) != id.as_ref())
    {
        return Err(Error::new(format!(
            "an action named {name:?} already exists in {repo:?}"
        )));
    }
    let (id, expected_version) = match id {
        None => (format!("{:016x}", rand::random::<u64>()), None),
        Some(id) => {
            let Some(old) = existing.iter().find(|a| a.id == id) else {
                return Err(Error::new(format!(
                    "action {id:?} does not exist in {repo:?}"
                )));
            };
            if old.spec.type_name() != spec.type_name() {
                return Err(Error::new(format!(
                    "action {id:?} is a {}, not a {}",
                    old.spec.type_name(),
                    spec.type_name()
                )));
            }
            let v = node(ctx).global.read(|s| {
                s.domain_items(&repo)
                    .and_then(|items| items.get(&ItemKind::Action))
                    .and_then(|m| m.get(&id))
                    .map(|i| i.version)
            });
            (id, v)
        }
    };
    let body = serde_json::to_string(&spec).map_err(|e| Error::new(e.to_string()))?;
    publish(
        ctx,
        GlobalEvent::PutItem {
            repo: repo.clone(),
            kind: ItemKind::Action,
            id: id.clone(),
            name: name.clone(),
            body,
            expected_version,
        },
    )
    .await?;
    Ok(to_graphql(
        ctx,
        StoredAction {
            repo,
            id,
            name,
            spec,
        },
    ))
}

#[derive(InputObject)]
pub struct HttpHeaderEntryInput {
    header: String,
    value: String,
}

#[derive(InputObject)]
pub struct SlackFieldEntryInput {
    field_name: String,
    value: String,
}

#[derive(InputObject)]
pub struct CreateWebhookAction {
    view_name: String,
    name: String,
    url: String,
    #[graphql(default_with = "\"POST\".to_string()")]
    method: String,
    #[graphql(default)]
    headers: Vec<HttpHeaderEntryInput>,
    #[graphql(default)]
    body_template: String,
    #[graphql(name = "ignoreSSL", default)]
    ignore_ssl: bool,
    #[graphql(default)]
    use_proxy: bool,
}

impl CreateWebhookAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::Webhook {
            method: self.method.to_ascii_uppercase(),
            url: self.url,
            headers: self
                .headers
                .into_iter()
                .map(|h| (h.header, h.value))
                .collect(),
            body_template: self.body_template,
            ignore_ssl: self.ignore_ssl,
            use_proxy: self.use_proxy,
        };
        (self.view_name, self.name, spec)
    }
}

#[derive(InputObject)]
pub struct CreateSlackAction {
    view_name: String,
    name: String,
    url: String,
    #[graphql(default)]
    fields: Vec<SlackFieldEntryInput>,
    #[graphql(default)]
    use_proxy: bool,
}

impl CreateSlackAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::Slack {
            url: self.url,
            fields: self
                .fields
                .into_iter()
                .map(|f| (f.field_name, f.value))
                .collect(),
            use_proxy: self.use_proxy,
        };
        (self.view_name, self.name, spec)
    }
}

#[derive(InputObject)]
pub struct CreateEmailAction {
    view_name: String,
    name: String,
    recipients: Vec<String>,
    #[graphql(default)]
    subject_template: Option<String>,
    #[graphql(default)]
    body_template: Option<String>,
    #[graphql(default)]
    attach_csv: bool,
    #[graphql(default)]
    use_proxy: bool,
}

impl CreateEmailAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::Email {
            recipients: self.recipients,
            subject_template: self.subject_template.unwrap_or_default(),
            body_template: self.body_template.unwrap_or_default(),
            attach_csv: self.attach_csv,
            use_proxy: self.use_proxy,
        };
        (self.view_name, self.name, spec)
    }
}

#[derive(InputObject)]
pub struct CreateHumioRepoAction {
    view_name: String,
    name: String,
    /// An ingest token of the repository to write into (kept only as its hash).
    ingest_token: String,
}

impl CreateHumioRepoAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::HumioRepo {
            ingest_token_hash: strata_global::hash_token(&self.ingest_token),
        };
        (self.view_name, self.name, spec)
    }
}

#[derive(InputObject)]
pub struct CreatePagerDutyAction {
    view_name: String,
    name: String,
    severity: String,
    routing_key: String,
    #[graphql(default)]
    use_proxy: bool,
}

impl CreatePagerDutyAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::PagerDuty {
            severity: self.severity,
            routing_key: self.routing_key,
            use_proxy: self.use_proxy,
        };
        (self.view_name, self.name, spec)
    }
}

#[derive(InputObject)]
pub struct CreateOpsGenieAction {
    view_name: String,
    name: String,
    api_url: String,
    genie_key: String,
    #[graphql(default)]
    use_proxy: bool,
}

impl CreateOpsGenieAction {
    fn spec(self) -> (String, String, ActionSpec) {
        let spec = ActionSpec::OpsGenie {
            api_url: self.api_url,
            genie_key: self.genie_key,
            use_proxy: self.use_proxy,
        };
        (self.view_name, self.name, spec)
    }
}

/// Declares an `update…Action` input: the action's id plus the fields of creating it.
macro_rules! update_input {
    ($name:ident, $create:ty) => {
        #[derive(InputObject)]
        pub struct $name {
            id: String,
            #[graphql(flatten)]
            action: $create,
        }
    };
}
update_input!(UpdateWebhookAction, CreateWebhookAction);
update_input!(UpdateSlackAction, CreateSlackAction);
update_input!(UpdateEmailAction, CreateEmailAction);
update_input!(UpdateHumioRepoAction, CreateHumioRepoAction);
update_input!(UpdatePagerDutyAction, CreatePagerDutyAction);
update_input!(UpdateOpsGenieAction, CreateOpsGenieAction);

#[derive(InputObject)]
pub struct DeleteAction {
    view_name: String,
    id: String,
}

#[derive(InputObject)]
pub struct TestAction {
    view_name: String,
    id: String,
    #[graphql(default_with = "\"Test action\".to_string()")]
    trigger_name: String,
    /// A JSON array of events to send (default: one sample event).
    #[graphql(default)]
    event_data: Option<String>,
}

#[derive(SimpleObject)]
pub struct TestResult {
    success: bool,
    message: String,
}

#[derive(Default)]
pub struct ActionMutation;

#[Object]
impl ActionMutation {
    async fn create_webhook_action(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_webhook_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }
    async fn create_slack_action(
        &self,
        ctx: &Context<'_>,
        input: CreateSlackAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_slack_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateSlackAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }
    async fn create_email_action(
        &self,
        ctx: &Context<'_>,
        input: CreateEmailAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_email_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateEmailAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }
    async fn create_humio_repo_action(
        &self,
        ctx: &Context<'_>,
        input: CreateHumioRepoAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_humio_repo_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateHumioRepoAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }
    async fn create_pager_duty_action(
        &self,
        ctx: &Context<'_>,
        input: CreatePagerDutyAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_pager_duty_action(
        &self,
        ctx: &Context<'_>,
        input: UpdatePagerDutyAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }
    async fn create_ops_genie_action(
        &self,
        ctx: &Context<'_>,
        input: CreateOpsGenieAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.spec();
        put(ctx, repo, None, name, spec).await
    }
    async fn update_ops_genie_action(
        &self,
        ctx: &Context<'_>,
        input: UpdateOpsGenieAction,
    ) -> Result<Action, Error> {
        let (repo, name, spec) = input.action.spec();
        put(ctx, repo, Some(input.id), name, spec).await
    }

    /// Deletes an action no alert or scheduled search uses.
    async fn delete_action(&self, ctx: &Context<'_>, input: DeleteAction) -> Result<bool, Error> {
        require_view(ctx, &input.view_name, ViewPermission::ChangeActions)?;
        let users: Vec<String> = node(ctx).global.read(|s| {
            model::alerts(s, Some(&input.view_name))
                .into_iter()
                .filter(|a| a.spec.action_ids.contains(&input.id))
                .map(|a| a.name)
                .collect()
        });
        if !users.is_empty() {
            return Err(Error::new(format!(
                "action {:?} is used by {users:?}; remove it from them first",
                input.id
            )));
        }
        publish(
            ctx,
            GlobalEvent::DeleteItem {
                repo: input.view_name,
                kind: ItemKind::Action,
                id: input.id,
            },
        )
        .await?;
        Ok(true)
    }

    /// Runs a stored action once with a sample trigger (or the given events).
    async fn test_action(&self, ctx: &Context<'_>, input: TestAction) -> Result<TestResult, Error> {
        require_view(ctx, &input.view_name, ViewPermission::ChangeActions)?;
        let action = list(ctx, &input.view_name)?
            .into_iter()
            .find(|a| a.id == input.id)
            .ok_or_else(|| {
                Error::new(format!(
                    "action {:?} does not exist in {:?}",
                    input.id, input.view_name
                ))
            })?;
        let events = match input.event_data.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(s) => serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(s)
                .map_err(|e| {
                Error::new(format!("eventData must be a JSON array of objects: {e}"))
            })?,
        };
        Ok(
            match crate::alerts::test_action(node(ctx), &action, &input.trigger_name, events).await
            {
                Ok(()) => TestResult {
                    success: true,
                    message: format!("{} {:?} ran", action.spec.type_name(), action.name),
                },
                Err(e) => TestResult {
                    success: false,
                    message: e.to_string(),
                },
            },
        )
    }
}
