//! The one error type of the REST API: a closed set of codes, JSON bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::configs::ConfigError;
use crate::control::UninstallError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Uninstall(#[from] UninstallError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"error": m})),
            ApiError::Config(ConfigError::Invalid { name, errors }) => (
                StatusCode::BAD_REQUEST,
                json!({
                    "error": self.to_string(),
                    "errors": errors.iter().map(|e| json!({
                        "file": name, "line": e.line, "column": e.column, "message": e.message,
                    })).collect::<Vec<_>>(),
                }),
            ),
            ApiError::Config(ConfigError::BadName(_) | ConfigError::BadPipeline(_)) => {
                (StatusCode::BAD_REQUEST, json!({"error": self.to_string()}))
            }
            ApiError::Config(ConfigError::NotFound(_) | ConfigError::NoRevision { .. }) => {
                (StatusCode::NOT_FOUND, json!({"error": self.to_string()}))
            }
            ApiError::Config(ConfigError::Store(e)) => {
                tracing::error!(error = %e, "state store failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "state store failed"}),
                )
            }
            ApiError::Uninstall(e) => {
                let status = match e {
                    UninstallError::AlreadyUninstalled => StatusCode::CONFLICT,
                    UninstallError::NotSubscribed(_) => StatusCode::SERVICE_UNAVAILABLE,
                    UninstallError::Master(_) => StatusCode::BAD_GATEWAY,
                    UninstallError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    UninstallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                };
                (status, json!({"error": self.to_string()}))
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({"error": m}))
            }
        };
        (status, Json(body)).into_response()
    }
}
