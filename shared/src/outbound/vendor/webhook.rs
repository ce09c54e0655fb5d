//! Generic tenant webhook, signed per Standard Webhooks. `webhook-id` is the
//! notification's idempotency key (stable across retries, so receivers dedup);
//! the timestamp and signature are fresh on every attempt.

use chrono::{SecondsFormat, Utc};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{Notification, parse_base, plain_token, settle};
use crate::outbound::call_result::CallResult;
use crate::outbound::client::{Kind, Outbound};
use crate::outbound::webhook_sig::{self, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Tenant-supplied: SSRF-checked per call.
    pub url: String,
    pub bearer_token: Option<SecretString>,
    /// `whsec_...`
    pub signing_secret: SecretString,
}

pub async fn webhook_deliver(
    client: &Outbound,
    target: &WebhookTarget,
    notification: &Notification,
) -> CallResult {
    let bearer = target.bearer_token.as_ref().map(|t| t.expose_secret());
    let secrets = [bearer.unwrap_or(""), target.signing_secret.expose_secret()];
    let result = async {
        if !plain_token(&notification.idempotency_key, 255)
            || !notification.idempotency_key.is_ascii()
        {
            return Err(CallResult::bad_config(
                "idempotency key must be printable ASCII",
            ));
        }
        let url = parse_base(&target.url, "webhook URL")?;
        let now = Utc::now();
        let body = json!({
            "type": notification.event_type,
            "timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            "data": notification.payload(),
        })
        .to_string();
        let id = notification.idempotency_key.as_str();
        let signature =
            webhook_sig::sign(&target.signing_secret, id, now.timestamp(), body.as_bytes())
                .map_err(|e| CallResult::bad_config(&e.to_string()))?;
        let reply = client
            .execute(Kind::Webhook, Method::POST, &url, |rb| {
                let rb = rb
                    .header(CONTENT_TYPE, "application/json")
                    .header(HEADER_ID, id)
                    .header(HEADER_TIMESTAMP, now.timestamp().to_string())
                    .header(HEADER_SIGNATURE, signature)
                    .body(body);
                match bearer {
                    Some(token) => rb.bearer_auth(token),
                    None => rb,
                }
            })
            .await?;
        // The receiver's body is not echoed: it may reflect what we sent.
        Ok(if reply.is_success() {
            reply.success(format!("receiver answered {}", reply.status), None)
        } else {
            reply.failure(format!("receiver answered {}", reply.status))
        })
    }
    .await;
    settle(result, &secrets)
}
