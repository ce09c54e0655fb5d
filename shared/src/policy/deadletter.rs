//! The dead-letter queue of the embedded store: dead deliveries parked in a
//! `DEADLETTER` partition for an operator (in AWS it is an SQS queue).

use async_trait::async_trait;
use serde_json::json;

use super::Delivery;
use super::dispatch::DeadLetters;
use crate::store::{Condition, DynStore};

pub struct StoreDeadLetters(pub DynStore);

#[async_trait]
impl DeadLetters for StoreDeadLetters {
    async fn publish(&self, delivery: &Delivery) -> Result<(), String> {
        let item = json!({
            "pk": "DEADLETTER",
            "sk": format!("{}#{}", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), delivery.delivery_id),
            "delivery": delivery,
        });
        self.0
            .put(
                item.as_object().cloned().unwrap_or_default(),
                Condition::None,
            )
            .await
            .map_err(|e| e.to_string())
    }
}
