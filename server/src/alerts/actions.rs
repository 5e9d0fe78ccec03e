//! Running actions: webhook, Slack, email (SMTP, `lettre`), ingest into a repository
//! (LogScale's HumioRepo action, through `Ingester::publish`), PagerDuty and Opsgenie (webhooks
//! with their services' payloads). Each delivery is tried up to three times with a growing
//! pause when the failure may be passing (unreachable, 5xx, 408, 429); what still fails is an
//! [`ActionError`] naming the action and the cause, which the evaluator records as the
//! alert's last error and retries on its own backoff.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::model::{ActionSpec, StoredAction};
use super::templates::{self, ActionCtx, Escape, Trigger};
use crate::config::Config;
use crate::ctx::NodeCtx;
use crate::ingest::{Batch, QueuedEvent};

const ATTEMPTS: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Shown of a failing receiver's answer.
const ERROR_BODY_CHARS: usize = 300;
/// PagerDuty's Events API v2 (the default of `--pagerduty-events-url`).
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Why an action failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ActionError {
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("sending email failed: {0}")]
    Smtp(String),
    #[error("{0}")]
    NotConfigured(String),
    #[error("ingesting into the repository failed: {0}")]
    Ingest(String),
    #[error("{0}")]
    Invalid(String),
}

impl ActionError {
    fn passing(&self) -> bool {
        match self {
            ActionError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            ActionError::Unreachable { .. } | ActionError::Smtp(_) | ActionError::Ingest(_) => true,
            ActionError::NotConfigured(_) | ActionError::Invalid(_) => false,
        }
    }
}

/// SMTP server settings of this node (`--smtp-*`).
#[derive(Clone, Debug, Default)]
pub struct Smtp {
    pub host: Option<String>,
    pub port: u16,
    pub sender: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub starttls: bool,
}

impl Smtp {
    pub fn from_config(cfg: &Config) -> Smtp {
        Smtp {
            host: cfg.smtp_host.clone(),
            port: cfg.smtp_port,
            sender: cfg.smtp_sender_address.clone(),
            username: cfg.smtp_username.clone(),
            password: cfg.smtp_password.clone(),
            starttls: cfg.smtp_use_starttls,
        }
    }
}

/// Sends actions; holds one HTTP client per (ignore SSL, use proxy) combination.
pub struct Sender {
    clients: [OnceLock<reqwest::Client>; 4],
    smtp: Smtp,
}

impl Sender {
    pub fn new(smtp: Smtp) -> Sender {
        Sender {
            clients: Default::default(),
            smtp,
        }
    }

    fn client(&self, ignore_ssl: bool, use_proxy: bool) -> Result<&reqwest::Client, ActionError> {
        let slot = &self.clients[usize::from(ignore_ssl) * 2 + usize::from(use_proxy)];
        if let Some(c) = slot.get() {
            return Ok(c);
        }
        let mut b = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .danger_accept_invalid_certs(ignore_ssl);
        if !use_proxy {
            b = b.no_proxy();
        }
        let c = b
            .build()
            .map_err(|e| ActionError::Invalid(format!("building the HTTP client: {e}")))?;
        Ok(slot.get_or_init(|| c))
    }

    /// Runs `action` for trigger `t`, retrying passing failures.
    pub async fn send(
        &self,
        ctx: &Arc<NodeCtx>,
        action: &StoredAction,
        t: &Trigger,
    ) -> Result<(), ActionError> {
        let a = ActionCtx {
            action_id: action.id.clone(),
            invocation_id: format!("{:016x}", rand::random::<u64>()),
        };
        let mut pause = FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            match self.send_once(ctx, &action.spec, t, &a).await {
                Ok(()) => return Ok(()),
                Err(e) if e.passing() && attempt < ATTEMPTS => {
                    tracing::debug!(action = %action.name, attempt, error = %e, "action failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 4;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn send_once(
        &self,
        ctx: &Arc<NodeCtx>,
        spec: &ActionSpec,
        t: &Trigger,
        a: &ActionCtx,
    ) -> Result<(), ActionError> {
        match spec {
            ActionSpec::Webhook {
                method,
                url,
                headers,
                body_template,
                ignore_ssl,
                use_proxy,
            } => {
                let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| ActionError::Invalid(format!("bad HTTP method {method:?}")))?;
                let body = templates::render(body_template, t, a, Escape::Json);
                let mut req = self
                    .client(*ignore_ssl, *use_proxy)?
                    .request(method, url)
                    .body(body);
                for (k, v) in headers {
                    req = req.header(k, templates::render(v, t, a, Escape::None));
                }
                http(req, url).await
            }
            ActionSpec::Slack {
                url,
                fields,
                use_proxy,
            } => {
                let body = slack_payload(fields, t, a);
                let req = self.client(false, *use_proxy)?.post(url).json(&body);
                http(req, url).await
            }
            ActionSpec::PagerDuty {
                severity,
                routing_key,
                use_proxy,
            } => {
                let body = pagerduty_payload(severity, routing_key, t);
                let url = &ctx.cfg.pagerduty_events_url;
                let req = self.client(false, *use_proxy)?.post(url).json(&body);
                http(req, url).await
            }
            ActionSpec::OpsGenie {
                api_url,
                genie_key,
                use_proxy,
            } => {
                let url = format!("{}/v2/alerts", api_url.trim_end_matches('/'));
                let req = self
                    .client(false, *use_proxy)?
                    .post(&url)
                    .header("Authorization", format!("GenieKey {genie_key}"))
                    .json(&opsgenie_payload(t));
                http(req, &url).await
            }
            ActionSpec::Email {
                recipients,
                subject_template,
                body_template,
                attach_csv,
                ..
            } => {
                self.email(
                    recipients,
                    subject_template,
                    body_template,
                    *attach_csv,
                    t,
                    a,
                )
                .await
            }
            ActionSpec::HumioRepo { ingest_token_hash } => ingest(ctx, ingest_token_hash, t).await,
        }
    }

    async fn email(
        &self,
        recipients: &[String],
        subject_template: &str,
        body_template: &str,
        attach_csv: bool,
        t: &Trigger,
        a: &ActionCtx,
    ) -> Result<(), ActionError> {
        use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let Some(host) = &self.smtp.host else {
            return Err(ActionError::NotConfigured(
                "no SMTP server is configured on this node (set --smtp-host)".into(),
            ));
        };
        let mailbox = |s: &str| {
            s.parse::<Mailbox>()
                .map_err(|e| ActionError::Invalid(format!("email address {s:?}: {e}")))
        };
        let subject = match subject_template.trim() {
            "" => templates::render("Strata alert: {alert_name}", t, a, Escape::None),
            s => templates::render(s, t, a, Escape::None),
        };
        let body = match body_template.trim() {
            "" => templates::render(DEFAULT_EMAIL_BODY, t, a, Escape::None),
            s => templates::render(s, t, a, Escape::None),
        };
        let mut m = Message::builder()
            .from(mailbox(&self.smtp.sender)?)
            .subject(subject);
        for r in recipients {
            m = m.to(mailbox(r)?);
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let msg = if attach_csv {
            let csv = Attachment::new("result.csv".to_string()).body(
                templates::events_csv(&t.events),
                ContentType::parse("text/csv").map_err(|e| ActionError::Invalid(e.to_string()))?,
            );
            m.multipart(MultiPart::mixed().singlepart(text).singlepart(csv))
        } else {
            m.singlepart(text)
        }
        .map_err(|e| ActionError::Invalid(format!("building the email: {e}")))?;
        let mut b = if self.smtp.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| ActionError::Smtp(e.to_string()))?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        }
        .port(self.smtp.port)
        .timeout(Some(REQUEST_TIMEOUT));
        if let (Some(u), Some(p)) = (&self.smtp.username, &self.smtp.password) {
            b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
                u.clone(),
                p.clone(),
            ));
        }
        b.build()
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| ActionError::Smtp(format!("{host}:{}: {e}", self.smtp.port)))
    }
}

const DEFAULT_EMAIL_BODY: &str = "{alert_type} {alert_name} triggered at {triggered_timestamp}.\n\n{alert_description}\n\nQuery: {query_string}\nWindow: {query_time_interval}\nRepository: {repo_name}\nEvents: {event_count}\n\n{events_str}\n\nOpen in Strata: {url}\n";

async fn http(req: reqwest::RequestBuilder, url: &str) -> Result<(), ActionError> {
    let resp = req.send().await.map_err(|e| ActionError::Unreachable {
        url: url.to_string(),
        reason: error_chain(&e),
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(ERROR_BODY_CHARS)
        .collect();
    Err(ActionError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        body,
    })
}

/// The error and its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// LogScale's Slack message: one attachment holding the configured fields (title, templated
/// value); without fields, a link, the query and the events.
pub fn slack_payload(fields: &[(String, String)], t: &Trigger, a: &ActionCtx) -> Value {
    let defaults = [
        ("Link".to_string(), "{url}".to_string()),
        ("Query".to_string(), "{query_string}".to_string()),
        ("Events String".to_string(), "{events_str}".to_string()),
    ];
    let fields = if fields.is_empty() {
        &defaults[..]
    } else {
        fields
    };
    let rendered: Vec<Value> = fields
        .iter()
        .map(|(title, v)| {
            json!({"title": title, "value": templates::render(v, t, a, Escape::None), "short": false})
        })
        .collect();
    json!({
        "text": format!("{} {} triggered", t.alert_type, t.alert_name),
        "attachments": [{
            "color": "danger",
            "title": t.alert_name,
            "title_link": templates::url(t),
            "fields": rendered,
            "ts": t.triggered_ms / 1000,
        }],
    })
}

/// A PagerDuty Events API v2 `trigger` event.
pub fn pagerduty_payload(severity: &str, routing_key: &str, t: &Trigger) -> Value {
    let summary: String = format!("{}: {} event(s)", t.alert_name, t.events.len())
        .chars()
        .take(1024)
        .collect();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {
            "summary": summary,
            "source": t.repo,
            "severity": severity,
            "timestamp": templates::iso(t.triggered_ms),
            "component": "strata",
            "custom_details": {
                "query": t.query_string,
                "event_count": t.events.len(),
                "events": t.events,
                "url": templates::url(t),
            },
        },
        "links": [{"href": templates::url(t), "text": "Search in Strata"}],
    })
}

/// An Opsgenie `POST /v2/alerts` body.
pub fn opsgenie_payload(t: &Trigger) -> Value {
    json!({
        "message": t.alert_name.chars().take(130).collect::<String>(),
        "alias": t.alert_id,
        "description": templates::events_str(&t.events).chars().take(15_000).collect::<String>(),
        "source": "strata",
        "entity": t.repo,
        "details": {
            "query": t.query_string,
            "eventCount": t.events.len().to_string(),
            "url": templates::url(t),
            "window": format!("{} -> {}", t.query_time_start, t.query_time_end),
        },
    })
}

/// Ingests the trigger's events into the repository of the token with hash `token_hash`.
async fn ingest(ctx: &Arc<NodeCtx>, token_hash: &str, t: &Trigger) -> Result<(), ActionError> {
    let repo = ctx
        .global
        .read(|s| s.ingest_token_by_hash(token_hash).map(|x| x.repo.clone()))
        .ok_or_else(|| {
            ActionError::NotConfigured("the action's ingest token no longer exists".into())
        })?;
    let events: Vec<QueuedEvent> = t.events.iter().map(|e| queued(e, t.triggered_ms)).collect();
    if events.is_empty() {
        return Ok(());
    }
    ctx.ingester
        .publish(
            &repo,
            vec![Batch {
                tags: BTreeMap::new(),
                events,
            }],
            crate::text::now_ms(),
        )
        .await
        .map(|_| ())
        .map_err(|e| ActionError::Ingest(format!("{repo}: {e}")))
}

/// One result row as an event: its `@timestamp` (else the trigger's time), its `@rawstring`
/// (else the row as JSON), its fields but the built-ins and tags.
fn queued(e: &Map<String, Value>, now: i64) -> QueuedEvent {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let timestamp = e
        .get("@timestamp")
        .and_then(|v| v.as_i64().or_else(|| text(v).parse().ok()))
        .unwrap_or(now);
    let raw = e
        .get("@rawstring")
        .map(text)
        .unwrap_or_else(|| Value::Object(e.clone()).to_string());
    let fields = e
        .iter()
        .filter(|(k, _)| !k.starts_with('@') && !k.starts_with('#'))
        .map(|(k, v)| (k.clone(), text(v)))
        .collect();
    QueuedEvent {
        timestamp,
        nanos: 0,
        raw,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger() -> Trigger {
        let e: Map<String, Value> =
            serde_json::from_value(json!({"_count": "7", "host": "web-1"})).unwrap();
        Trigger {
            alert_id: "a1".into(),
            alert_name: "errors".into(),
            alert_type: "AggregateAlert".into(),
            repo: "web".into(),
            query_string: "error | count()".into(),
            triggered_ms: 1_700_000_000_000,
            events: vec![e],
            base_url: "http://n".into(),
            ..Default::default()
        }
    }

    #[test]
    fn service_payloads_have_their_shapes() {
        let t = trigger();
        let s = slack_payload(
            &[("Count".into(), "{field:_count}".into())],
            &t,
            &ActionCtx::default(),
        );
        assert_eq!(
            s["attachments"][0]["fields"][0],
            json!({"title": "Count", "value": "7", "short": false})
        );
        let s = slack_payload(&[], &t, &ActionCtx::default());
        assert_eq!(s["attachments"][0]["fields"].as_array().unwrap().len(), 3);
        let p = pagerduty_payload("critical", "rk", &t);
        assert_eq!(p["routing_key"], "rk");
        assert_eq!(p["event_action"], "trigger");
        assert_eq!(p["payload"]["severity"], "critical");
        assert_eq!(p["payload"]["summary"], "errors: 1 event(s)");
        assert_eq!(p["payload"]["custom_details"]["events"][0]["host"], "web-1");
        let o = opsgenie_payload(&t);
        assert_eq!(o["message"], "errors");
        assert_eq!(o["details"]["eventCount"], "1");
    }

    #[test]
    fn result_rows_become_events() {
        let e: Map<String, Value> = serde_json::from_value(
            json!({"@timestamp": 5, "@rawstring": "x=1", "@id": "0_1_2", "#repo": "a", "x": "1"}),
        )
        .unwrap();
        let q = queued(&e, 9);
        assert_eq!((q.timestamp, q.raw.as_str()), (5, "x=1"));
        assert_eq!(q.fields, vec![("x".to_string(), "1".to_string())]);
        let q = queued(&trigger().events[0], 9);
        assert_eq!(q.timestamp, 9);
        assert_eq!(q.raw, r#"{"_count":"7","host":"web-1"}"#);
    }
}
