//! Domain errors to problem responses: the one place each domain error enum
//! meets HTTP.

use super::ApiError;
use crate::audit::AuditError;
use crate::tenancy::TenancyError;

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
