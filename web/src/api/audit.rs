//! `GET /api/audit?limit=`: the audit log of the admin key's project, newest first.

use axum::Json;
use axum::extract::{Query, State};
use sextant_meta::audit::AuditEntry;

use crate::auth::AdminAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct AuditParams {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

#[derive(Debug, serde::Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

pub async fn get_audit(
    State(state): State<AppState>,
    AdminAccess(principal): AdminAccess,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = params.limit.clamp(1, 1000);
    let entries = state
        .access
        .with_store(|store| store.audit().list(Some(&principal.project_id), limit))
        .map_err(ApiError::internal)?;
    Ok(Json(AuditPage { entries }))
}
