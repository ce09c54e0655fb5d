//! Domain errors to problem responses: the one place each domain error enum
//! meets HTTP.

use super::ApiError;
use crate::audit::AuditError;
use crate::tenancy::TenancyError;

/// A 422 naming every invalid field of `what`.
fn unprocessable(what: &str, errors: Vec<crate::validate::FieldViolation>) -> ApiError {
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    ApiError::Unprocessable {
        detail: format!("invalid {what}: {}", fields.join(", ")),
        errors,
    }
}

impl From<AuditError> for ApiError {
    fn from(err: AuditError) -> Self {
        match err {
            AuditError::Store(e) => e.into(),
            AuditError::Contention(_) => {
                tracing::warn!(error = %err, "audit chain contention");
                Self::Unavailable(
                    "too many concurrent changes for this tenant; retry shortly".into(),
                )
            }
            AuditError::Malformed(_) => Self::internal(err),
        }
    }
}

impl From<crate::audit::BadCursor> for ApiError {
    fn from(err: crate::audit::BadCursor) -> Self {
        Self::BadRequest(err.to_string())
    }
}

/// Out of time with nothing to hand back: the platform's bare 5xx avoided.
impl From<crate::deadline::Expired> for ApiError {
    fn from(err: crate::deadline::Expired) -> Self {
        tracing::warn!(error = %err, "request deadline");
        Self::Unavailable("the request ran out of time; retry after Retry-After seconds".into())
    }
}

impl From<TenancyError> for ApiError {
    fn from(err: TenancyError) -> Self {
        match err {
            TenancyError::Invalid { field, message } => Self::invalid_field(field, message),
            TenancyError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            TenancyError::Conflict(detail) => Self::Conflict(detail),
            TenancyError::Store(e) => e.into(),
            TenancyError::Audit(e) => e.into(),
        }
    }
}

impl From<crate::settings::Rejection> for ApiError {
    fn from(rejection: crate::settings::Rejection) -> Self {
        use crate::settings::Rejection;
        match rejection {
            Rejection::Invalid(errors) => unprocessable("settings", errors),
            Rejection::Tier { feature, tier } => Self::Forbidden(format!(
                "feature '{feature}' requires the pro tier or higher (current tier: {})",
                tier.as_str()
            )),
        }
    }
}

impl From<crate::policy::AcceptError> for ApiError {
    fn from(err: crate::policy::AcceptError) -> Self {
        use crate::policy::AcceptError;
        match err {
            AcceptError::Invalid(errors) => unprocessable("policy event", errors),
            AcceptError::UnknownTenant(id) => Self::NotFound(format!("tenant {id} not found")),
            AcceptError::Conflict(id) => Self::Conflict(format!(
                "event_id {id} was already accepted with a different body"
            )),
            AcceptError::Store(e) => e.into(),
            AcceptError::Audit(e) => e.into(),
        }
    }
}

impl From<crate::ledger::RecordError> for ApiError {
    fn from(err: crate::ledger::RecordError) -> Self {
        use crate::ledger::RecordError;
        match err {
            RecordError::Invalid(errors) => unprocessable("remediation", errors),
            RecordError::UnknownTenant(id) => Self::NotFound(format!("tenant {id} not found")),
            RecordError::Store(e) => e.into(),
            RecordError::Audit(e) => e.into(),
        }
    }
}

impl From<crate::settings::UpdateError> for ApiError {
    fn from(err: crate::settings::UpdateError) -> Self {
        use crate::settings::UpdateError;
        match err {
            UpdateError::Rejected(r) => r.into(),
            UpdateError::PreconditionFailed { .. } => Self::PreconditionFailed(format!(
                "{err}; read them again and retry with the new ETag"
            )),
            UpdateError::Stale { .. } => Self::Conflict(format!("{err}; read them again")),
            UpdateError::Busy => {
                Self::Conflict("the settings kept changing concurrently; read them again".into())
            }
            UpdateError::Store(e) => e.into(),
            UpdateError::Audit(e) => e.into(),
        }
    }
}

#[cfg(feature = "exports")]
impl From<crate::exports::ExportError> for ApiError {
    fn from(err: crate::exports::ExportError) -> Self {
        use crate::exports::ExportError;
        use crate::objects::ObjectError;
        match err {
            ExportError::NotRecorded(ref cause) => {
                tracing::error!(error = %cause, "could not audit the export request");
                Self::Unavailable(err.to_string())
            }
            ExportError::Store(e) => e.into(),
            ExportError::Signing(ref cause) => {
                tracing::error!(error = %cause, "could not sign the pack");
                Self::Unavailable(err.to_string())
            }
            ExportError::Objects(ObjectError::Backend(cause)) => {
                tracing::error!(cause = %cause, "object store failed");
                Self::Unavailable("the export store is unavailable".into())
            }
            other => Self::internal(other),
        }
    }
}

#[cfg(feature = "exports")]
impl From<crate::exports::jobs::JobError> for ApiError {
    fn from(err: crate::exports::jobs::JobError) -> Self {
        use crate::exports::jobs::JobError;
        match err {
            JobError::Store(e) => e.into(),
            JobError::Options(e) => Self::invalid_field(e.param, e.message),
            JobError::Export(e) => e.into(),
        }
    }
}
