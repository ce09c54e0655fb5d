//! `POST /api/v1/admin/tenants/{tenant_id}/remediations` (operator key).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use valdrix_shared::auth::AdminKey;
use valdrix_shared::http::{ApiError, ApiJson, RequestId};
use valdrix_shared::ledger::{self, Remediation, RemediationInput};
use valdrix_shared::state::Core;

pub const REMEDIATIONS_PATH: &str = "/api/v1/admin/tenants/{tenant_id}/remediations";

pub(crate) async fn put_remediation(
    State(state): State<Core>,
    _: AdminKey,
    request_id: RequestId,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<RemediationInput>,
) -> Result<(StatusCode, axum::Json<Remediation>), ApiError> {
    let recorded =
        ledger::record(&state.audit, &tenant_id, body, Some(request_id.to_string())).await?;
    let code = if recorded.replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((code, axum::Json(recorded.remediation)))
}
