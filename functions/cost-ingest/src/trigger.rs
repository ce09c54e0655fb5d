//! What invokes the function: S3 notifications or its own queue's messages.
//! Both are `{"Records": [...]}`; the records' `eventSource` tells which.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::object::decode_key;
use crate::queue::Continuation;

#[derive(Debug)]
pub enum Trigger {
    /// New objects: each a file from its start.
    S3(Vec<Continuation>),
    /// Files to continue.
    Queue(Vec<Delivery>),
}

/// One message of the function's queue.
#[derive(Debug)]
pub struct Delivery {
    pub message_id: String,
    /// `None` for a body that is not a continuation.
    pub file: Option<Continuation>,
    /// Received before (SQS's `ApproximateReceiveCount` above 1): a retry.
    pub redelivered: bool,
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(d)?;
        let source = value
            .pointer("/Records/0/eventSource")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if source == "aws:sqs" {
            let event: SqsEvent = serde_json::from_value(value).map_err(D::Error::custom)?;
            Ok(Self::Queue(
                event
                    .records
                    .into_iter()
                    .map(|m| Delivery {
                        file: m.body.as_deref().and_then(|b| serde_json::from_str(b).ok()),
                        redelivered: m
                            .attributes
                            .get("ApproximateReceiveCount")
                            .and_then(|n| n.parse::<u32>().ok())
                            .is_some_and(|n| n > 1),
                        message_id: m.message_id.unwrap_or_default(),
                    })
                    .collect(),
            ))
        } else {
            let event: S3Event = serde_json::from_value(value).map_err(D::Error::custom)?;
            Ok(Self::S3(
                event
                    .records
                    .into_iter()
                    .filter_map(|r| {
                        Some(Continuation {
                            bucket: r.s3.bucket.name?,
                            key: decode_key(&r.s3.object.key?),
                            etag: r.s3.object.e_tag.filter(|e| !e.is_empty()),
                            step: 0,
                        })
                    })
                    .collect(),
            ))
        }
    }
}
