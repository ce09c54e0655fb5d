//! BatchGetItem and BatchWriteItem: requests of at most 100 keys / 25 items,
//! and whatever DynamoDB leaves unprocessed (throttling, the 16 MB answer
//! limit) sent again with back-off until done.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};

use super::convert::{AttributeMap, key, to_attributes};
use super::{DynamoStore, built, errors, live};
use crate::store::check::now_epoch;
use crate::store::{Item, MAX_BATCH_GET, MAX_BATCH_PUT, StoreError};

/// Rounds of re-sending what came back unprocessed before giving up.
const MAX_ROUNDS: u32 = 8;

/// Exponential back-off with full jitter, as AWS advises for unprocessed keys.
fn backoff(round: u32) -> Duration {
    let cap = 25u64 << round.min(6);
    Duration::from_millis(rand::random_range(cap / 2..=cap))
}

/// Sends `pending` with `send`, which answers what it got and what is left
/// unprocessed, until nothing is: `send` is called again with the rest after
/// a back-off, at most [`MAX_ROUNDS`] times. Everything got, in order.
pub(crate) async fn until_processed<T, U, F, Fut>(
    what: &str,
    mut pending: Vec<T>,
    mut send: F,
) -> Result<Vec<U>, StoreError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(Vec<U>, Vec<T>), StoreError>>,
{
    let mut got = Vec::new();
    for round in 0..MAX_ROUNDS {
        if pending.is_empty() {
            return Ok(got);
        }
        if round > 0 {
            tokio::time::sleep(backoff(round)).await;
        }
        let (answers, rest) = send(pending).await?;
        got.extend(answers);
        pending = rest;
    }
    if pending.is_empty() {
        Ok(got)
    } else {
        Err(StoreError::Unavailable(format!(
            "dynamodb {what}: {} requests still unprocessed after {MAX_ROUNDS} rounds",
            pending.len()
        )))
    }
}

impl DynamoStore {
    pub(super) async fn get_batch(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<Option<Item>>, StoreError> {
        let mut found: HashMap<(String, String), Item> = HashMap::with_capacity(keys.len());
        let now = now_epoch();
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let request: Vec<AttributeMap> = chunk.iter().map(|(pk, sk)| key(pk, sk)).collect();
            let items = until_processed("batch_get_item", request, |keys| async move {
                {
                    let wanted = KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(true)
                        .build();
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(&self.table, built(wanted)?)
                        .send()
                        .await
                        .map_err(|e| errors::map("batch_get_item", &e))?;
                    let mut items = Vec::new();
                    for attributes in out
                        .responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                    {
                        items.extend(live(attributes, now)?);
                    }
                    let rest = out
                        .unprocessed_keys()
                        .and_then(|u| u.get(&self.table))
                        .map(|k| k.keys().to_vec())
                        .unwrap_or_default();
                    Ok((items, rest))
                }
            })
            .await?;
            for item in items {
                let pk = item["pk"].as_str().unwrap_or_default().to_owned();
                let sk = item["sk"].as_str().unwrap_or_default().to_owned();
                found.insert((pk, sk), item);
            }
        }
        Ok(keys.iter().map(|k| found.remove(k)).collect())
    }

    pub(super) async fn put_batch(&self, items: &[Item]) -> Result<(), StoreError> {
        for chunk in items.chunks(MAX_BATCH_PUT) {
            let requests = chunk
                .iter()
                .map(|item| {
                    let put = built(
                        PutRequest::builder()
                            .set_item(Some(to_attributes(item)))
                            .build(),
                    )?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            until_processed::<_, (), _, _>("batch_write_item", requests, |requests| async move {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| errors::map("batch_write_item", &e))?;
                let rest = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                Ok((Vec::new(), rest))
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_unprocessed_rest_is_sent_again_until_none_is_left() {
        let calls = Mutex::new(Vec::new());
        // DynamoDB processes only the first two of each request.
        let got = until_processed("test", (0..7).collect(), |batch: Vec<u32>| {
            calls.lock().unwrap().push(batch.clone());
            async move {
                Ok((
                    batch[..2.min(batch.len())].to_vec(),
                    batch.into_iter().skip(2).collect(),
                ))
            }
        })
        .await
        .unwrap();
        assert_eq!(got, (0..7).collect::<Vec<_>>());
        assert_eq!(
            *calls.lock().unwrap(),
            vec![
                vec![0, 1, 2, 3, 4, 5, 6],
                vec![2, 3, 4, 5, 6],
                vec![4, 5, 6],
                vec![6]
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_never_processed_fails_after_the_last_round() {
        let mut calls = 0;
        let result = until_processed("test", vec![1], |batch: Vec<u32>| {
            calls += 1;
            async move { Ok((Vec::<()>::new(), batch)) }
        })
        .await;
        assert!(matches!(result, Err(StoreError::Unavailable(m)) if m.contains("unprocessed")));
        assert_eq!(calls, MAX_ROUNDS);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_stops_at_once() {
        let mut calls = 0;
        let result = until_processed("test", vec![1], |_batch: Vec<u32>| {
            calls += 1;
            async { Err::<(Vec<()>, Vec<u32>), _>(StoreError::Unavailable("down".into())) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}
