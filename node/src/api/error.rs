//! The API's errors: a status and `{"error", "causes"}`, a message a person
//! can act on and the chain of causes under it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// What a failed request answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, and what to do about it when that is known.
    pub error: String,
    /// The causes under it, outermost first.
    pub causes: Vec<String>,
}

impl ApiError {
    /// A failure with `status` and a message.
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: error.into(),
                causes: Vec::new(),
            },
        }
    }

    /// A failure of the node itself (500), with `err`'s chain as causes.
    pub fn internal(err: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut next = err.source();
        while let Some(cause) = next {
            causes.push(cause.to_string());
            next = cause.source();
        }
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: ErrorBody {
                error: err.to_string(),
                causes,
            },
        }
    }

    /// 404 with a message naming what was not found.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    /// 422: the request was understood but a value in it is wrong.
    pub fn invalid(what: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, what)
    }

    /// `causes` under the message.
    pub fn with_causes(mut self, causes: Vec<String>) -> Self {
        self.body.causes = causes;
        self
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What it answers: the message and its causes (the web pages show
    /// them as the API says them).
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
