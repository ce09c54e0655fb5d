//! SDK errors → `StoreError`. Messages are ours and short: an error code or a
//! transport failure kind, never request data, credentials or request ids.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;

use crate::store::StoreError;

/// Any SDK failure of operation `op`, for the codes every operation shares.
pub(crate) fn map<E: ProvideErrorMetadata, R>(op: &str, err: &SdkError<E, R>) -> StoreError {
    match err {
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("dynamodb {op}: timed out")),
        SdkError::DispatchFailure(_) => {
            StoreError::Unavailable(format!("dynamodb {op}: unreachable"))
        }
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("dynamodb {op}: unreadable response"))
        }
        SdkError::ConstructionFailure(_) => StoreError::Unavailable(format!(
            "dynamodb {op}: request not built (credentials or region missing?)"
        )),
        _ => by_code(op, err.code(), err.message()),
    }
}

fn by_code(op: &str, code: Option<&str>, message: Option<&str>) -> StoreError {
    match code {
        Some("ValidationException") => {
            let message = message.unwrap_or("");
            if message.contains("starting key") {
                StoreError::InvalidCursor
            } else {
                StoreError::Invalid(format!("dynamodb {op}: {}", short(message)))
            }
        }
        Some("TransactionConflictException" | "TransactionInProgressException") => {
            StoreError::TransactionConflict
        }
        Some("ResourceNotFoundException") => {
            StoreError::Unavailable(format!("dynamodb {op}: table not found"))
        }
        Some(code) => StoreError::Unavailable(format!("dynamodb {op}: {}", short(code))),
        None => StoreError::Unavailable(format!("dynamodb {op}: service error")),
    }
}

/// Validation messages name the problem (never values); keep them one line.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    line.chars().take(160).collect()
}

pub(crate) fn is_condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

#[cfg(feature = "provision")]
pub(crate) fn is_ttl_already_enabled<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ValidationException")
        && err
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("already enabled"))
}

/// TransactWriteItems: the cancellation reasons are aligned with the ops, so
/// the first `ConditionalCheckFailed` names the op; `keys` are the ops' keys.
pub(crate) fn map_transaction<R>(
    err: &SdkError<TransactWriteItemsError, R>,
    keys: &[(String, String)],
) -> StoreError {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return map("transact", err);
    };
    let reasons = cancelled.cancellation_reasons();
    let code_at = |i: usize| reasons.get(i).and_then(|r| r.code());
    if let Some((index, (pk, sk))) = keys
        .iter()
        .enumerate()
        .find(|(i, _)| code_at(*i) == Some("ConditionalCheckFailed"))
    {
        return StoreError::TransactionConditionFailed {
            index,
            pk: pk.clone(),
            sk: sk.clone(),
        };
    }
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code()).collect();
    if codes.contains(&"TransactionConflict") {
        StoreError::TransactionConflict
    } else if let Some(reason) = reasons.iter().find(|r| r.code() == Some("ValidationError")) {
        StoreError::Invalid(format!(
            "dynamodb transact: {}",
            short(reason.message().unwrap_or("validation error"))
        ))
    } else {
        let first = codes
            .into_iter()
            .find(|c| *c != "None")
            .unwrap_or("cancelled");
        StoreError::Unavailable(format!("dynamodb transact: {}", short(first)))
    }
}
