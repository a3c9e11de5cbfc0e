//! Webhook notifications: each push or delete becomes an event POSTed as JSON to every
//! configured endpoint, retried with exponential backoff. Delivery runs on a background
//! task behind a bounded queue, so a slow endpoint never slows a push; when the queue is
//! full the event is dropped and logged.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use strata_oci::Digest;
use tokio::sync::mpsc;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Push,
    Delete,
}

/// One notification (sent as `{"events":[event]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub timestamp: String,
    pub action: Action,
    pub repository: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(rename = "mediaType", skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub size: u64,
}

impl Event {
    pub fn new(
        action: Action,
        repo: &str,
        digest: &Digest,
        tag: Option<String>,
        media_type: &str,
        size: u64,
    ) -> Self {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            timestamp: chrono::Utc::now().to_rfc3339(),
            action,
            repository: repo.to_string(),
            digest: digest.to_string(),
            tag,
            media_type: media_type.to_string(),
            size,
        }
    }
}

/// A webhook endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub url: String,
    /// Attempts before giving up (default 5).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First retry delay, doubled each time (default 500ms).
    #[serde(default = "default_backoff", with = "humantime_serde_compat")]
    pub backoff: Duration,
    /// Extra request headers, e.g. an authorization token.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Duration {
    Duration::from_millis(500)
}

pub(crate) mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?}: {e}")))
    }
}

/// The sending half handed to the registry.
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: mpsc::Sender<Event>,
}

impl Notifier {
    /// Starts the delivery task (needs a tokio runtime).
    pub fn start(endpoints: Vec<Endpoint>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Event>(1024);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                for ep in &endpoints {
                    let (client, ep, ev) = (client.clone(), ep.clone(), ev.clone());
                    tokio::spawn(async move { deliver(&client, &ep, &ev).await });
                }
            }
        });
        Notifier { tx }
    }

    pub fn send(&self, event: Event) {
        if let Err(e) = self.tx.try_send(event) {
            tracing::warn!(error = %e, "notification queue full; event dropped");
        }
    }
}

async fn deliver(client: &reqwest::Client, ep: &Endpoint, ev: &Event) {
    let body = serde_json::json!({ "events": [ev] });
    let mut delay = ep.backoff;
    for attempt in 1..=ep.attempts.max(1) {
        let mut req = client.post(&ep.url).json(&body);
        for (k, v) in &ep.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                tracing::debug!(url = %ep.url, event = %ev.id, "notification delivered");
                return;
            }
            Ok(r) => {
                tracing::warn!(url = %ep.url, status = %r.status(), attempt, "notification refused")
            }
            Err(e) => tracing::warn!(url = %ep.url, error = %e, attempt, "notification failed"),
        }
        if attempt < ep.attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    tracing::error!(url = %ep.url, event = %ev.id, "notification abandoned after retries");
}
