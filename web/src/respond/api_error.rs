//! `ApiError`: every JSON API failure as `{"error": {"code", "message"}}` with the right status.
//!
//! A 5xx body is generic; its detail is logged once here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sextant_query::QueryError;
use sextant_query::error::DataFusionErrorKind;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_argument",
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "api request failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "internal error; see the server log".into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        match &error {
            QueryError::NotFound(message) => ApiError {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: message.clone(),
            },
            QueryError::Forbidden(message) => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: message.clone(),
            },
            // The same statement would be refused again: a 4xx, unlike a busy server.
            QueryError::LimitExceeded(message) => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "limit_exceeded",
                message: message.clone(),
            },
            _ if error.is_user_error() => ApiError::bad_request(error.to_string()),
            QueryError::DataFusion(inner)
                if matches!(
                    inner.find_root(),
                    DataFusionErrorKind::ResourcesExhausted(_)
                ) =>
            {
                ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "resources_exhausted",
                    message: format!("query needs more memory than allowed; narrow it ({error})"),
                }
            }
            _ => ApiError::internal(&error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
