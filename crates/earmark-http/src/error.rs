//! The HTTP layer's error: every failure becomes `application/problem+json` (RFC 9457) with a
//! stable `code`, mapped in one table, [`ApiError::classify`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use earmark_core::ports::{JobQueueError, LibraryRepoError};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything an endpoint can answer with instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key or a wrong one.
    #[error(
        "missing or invalid API key: send it as `Authorization: Bearer <key>`, as `X-Api-Key: \
         <key>`, or as the password of HTTP Basic auth (the key is printed as `API key: ...` on \
         first start)"
    )]
    Unauthorized,
    /// No key, from a trusted network, but sent by a web page of an origin not listed.
    #[error(
        "this request came from a web page whose origin earmark does not know: requests without a key are taken from a trusted network only from earmark's own pages and from the origins in EARMARK__SERVER__CORS_ORIGINS; add the page's origin there, or send the API key"
    )]
    ForeignOrigin,
    /// A `?token=` that is malformed, tampered with, expired or for something else.
    #[error("{0}")]
    BadToken(#[from] crate::auth::tokens::TokenError),
    /// No login with this id is waiting (unknown, finished, or older than 15 minutes).
    #[error(
        "no login with this id is waiting: it is unknown, already finished, or expired; start again with POST /auth/audible/login"
    )]
    LoginNotFound,
    /// An Audible account operation failed.
    #[error(transparent)]
    Accounts(#[from] earmark_core::ports::AccountsError),
    /// Too many failed attempts from this address.
    #[error("too many failed authentication attempts from your address: retry in {0} s")]
    TooManyFailures(u64),
    /// No such route.
    #[error("no route for {method} {path}; the API is described at /docs")]
    RouteNotFound {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// A batch names more books than one request may.
    #[error("{got} books in one request: at most {max}; send them in several requests")]
    BatchTooLarge {
        /// The most a batch may name.
        max: usize,
        /// How many this one named.
        got: usize,
    },
    /// A download cannot be decrypted for listening: what is missing or wrong.
    #[error("{0}")]
    CannotDecrypt(String),
    /// The body is larger than any request of this route needs.
    #[error("the body is larger than {limit} bytes, more than any request here needs")]
    BodyTooLarge {
        /// The most a body may hold.
        limit: usize,
    },
    /// The path is known, but not with this method.
    #[error("{path} does not answer {method}; it answers {}", .allow.join(", "))]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// The methods the path answers.
        allow: Vec<String>,
    },
    /// The request is well-formed but its values are not acceptable.
    #[error("{0}")]
    Validation(String),
    /// The request body or query could not be read at all.
    #[error("{0}")]
    Malformed(String),
    /// The file id names nothing that can be served (unknown, gone from disk, or outside the
    /// data directory: the client is not told which).
    #[error("no stored file `{0}` can be served: it is unknown, or its file is gone from disk")]
    FileGone(String),
    /// The book has neither a converted file nor a download.
    #[error(
        "book {0} has no converted file and no download yet: download it first (POST /jobs/download)"
    )]
    NoConvertedFile(earmark_core::Asin),
    /// A book Audible handed out in parts, downloaded but not converted: its parts are
    /// separate files until a conversion joins them.
    #[error(
        "book {0} was downloaded as separate parts, which play as one book once converted: convert it (POST /jobs/convert), then stream it"
    )]
    PartsNotJoined(earmark_core::Asin),
    /// The book has neither a downloaded cover nor a cover URL.
    #[error("book {0} has no cover: none was downloaded and Audible lists none")]
    NoCover(earmark_core::Asin),
    /// The job has not written a log yet.
    #[error("job {0} has no log yet: it has not started")]
    NoLogYet(String),
    /// Something that should not fail did; the message is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
    /// A book cannot be removed while a job for it is waiting or running.
    #[error("{0}")]
    BookBusy(String),
    /// A folder to import from is not a folder on the server.
    #[error("{0}")]
    FolderNotFound(String),
    /// A folder to import from lies outside the folders the operator allows.
    #[error("{0}")]
    OutsideImportRoots(String),
    /// What was asked for is turned off in this server's configuration.
    #[error("{0}")]
    TurnedOff(String),
    /// A library operation failed.
    #[error(transparent)]
    Library(#[from] LibraryRepoError),
    /// A job-queue operation failed.
    #[error(transparent)]
    Jobs(#[from] JobQueueError),
    /// Reading or saving the settings failed.
    #[error(transparent)]
    Settings(#[from] earmark_core::ports::SettingsStoreError),
    /// Reading the automatic sync's schedule failed.
    #[error(transparent)]
    Schedule(#[from] earmark_core::ports::ScheduleStoreError),
    /// A webhook operation failed.
    #[error(transparent)]
    Webhooks(#[from] earmark_core::ports::WebhookStoreError),
    /// A local-item operation failed.
    #[error(transparent)]
    LocalItems(#[from] earmark_core::ports::LocalItemStoreError),
}

impl From<earmark_core::repair::SurveyError> for ApiError {
    fn from(e: earmark_core::repair::SurveyError) -> Self {
        use earmark_core::repair::SurveyError as S;
        match e {
            S::Library(e) => Self::Library(e),
            S::LocalItems(e) => Self::LocalItems(e),
            S::Jobs(e) => Self::Jobs(e),
            S::Disk(e) => Self::Internal(e.to_string()),
        }
    }
}

impl From<earmark_core::library_removal::RemovalError> for ApiError {
    fn from(e: earmark_core::library_removal::RemovalError) -> Self {
        use earmark_core::library_removal::RemovalError as R;
        match e {
            busy @ R::Busy { .. } => Self::BookBusy(busy.to_string()),
            R::Library(e) => Self::Library(e),
            R::Jobs(e) => Self::Jobs(e),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:earmark:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this case, and what to do about it.
    pub detail: String,
    /// Stable machine-readable code, e.g. `unauthorized`, `validation_failed`.
    pub code: String,
}

impl ApiError {
    /// Status, stable code and title of this error: the one place they are decided.
    pub fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use LibraryRepoError as L;
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::ForeignOrigin => (StatusCode::FORBIDDEN, "foreign_origin", "Forbidden"),
            Self::LoginNotFound => (StatusCode::NOT_FOUND, "login_not_found", "No such login"),
            Self::Accounts(earmark_core::ports::AccountsError::Invalid(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_account_request",
                "Invalid account request",
            ),
            Self::Accounts(earmark_core::ports::AccountsError::NoProfile(_)) => (
                StatusCode::NOT_FOUND,
                "profile_not_found",
                "No such profile",
            ),
            Self::Accounts(earmark_core::ports::AccountsError::ProfileExists(_)) => {
                (StatusCode::CONFLICT, "profile_exists", "Profile exists")
            }
            Self::Accounts(earmark_core::ports::AccountsError::Refused(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "login_refused",
                "Login refused",
            ),
            Self::Accounts(earmark_core::ports::AccountsError::Tool(_)) => (
                StatusCode::BAD_GATEWAY,
                "account_helper_failed",
                "Account helper failed",
            ),
            Self::BadToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token", "Unauthorized"),
            Self::TooManyFailures(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failures",
                "Too many failed attempts",
            ),
            Self::RouteNotFound { .. } => (StatusCode::NOT_FOUND, "route_not_found", "Not Found"),
            Self::BatchTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                "Batch too large",
            ),
            Self::CannotDecrypt(_) => (StatusCode::CONFLICT, "cannot_decrypt", "Cannot decrypt"),
            Self::BodyTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "Body too large",
            ),
            Self::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method Not Allowed",
            ),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid request",
            ),
            Self::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "Malformed request",
            ),
            Self::FileGone(_) => (StatusCode::NOT_FOUND, "file_not_found", "File not found"),
            Self::NoConvertedFile(_) => (
                StatusCode::NOT_FOUND,
                "no_converted_file",
                "Nothing converted yet",
            ),
            Self::PartsNotJoined(_) => (
                StatusCode::CONFLICT,
                "parts_not_joined",
                "Downloaded in parts, not converted yet",
            ),
            Self::NoCover(_) => (StatusCode::NOT_FOUND, "no_cover", "No cover"),
            Self::NoLogYet(_) => (StatusCode::NOT_FOUND, "log_not_found", "No log yet"),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            ),
            Self::Library(L::BookNotFound(_)) => {
                (StatusCode::NOT_FOUND, "book_not_found", "Book not found")
            }
            Self::Library(L::FileNotFound(_)) => {
                (StatusCode::NOT_FOUND, "file_not_found", "File not found")
            }
            Self::Jobs(JobQueueError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "job_not_found", "Job not found")
            }
            Self::Webhooks(earmark_core::ports::WebhookStoreError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                "webhook_not_found",
                "Webhook not found",
            ),
            Self::LocalItems(earmark_core::ports::LocalItemStoreError::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                "local_item_not_found",
                "Local item not found",
            ),
            Self::FolderNotFound(_) => (
                StatusCode::NOT_FOUND,
                "folder_not_found",
                "Folder not found",
            ),
            Self::OutsideImportRoots(_) => (
                StatusCode::FORBIDDEN,
                "outside_import_roots",
                "Outside the import folders",
            ),
            Self::BookBusy(_) => (
                StatusCode::CONFLICT,
                "book_busy",
                "Book has a job in progress",
            ),
            Self::TurnedOff(_) => (
                StatusCode::CONFLICT,
                "turned_off",
                "Turned off on this server",
            ),
            Self::Jobs(JobQueueError::InvalidTransition { .. }) => (
                StatusCode::CONFLICT,
                "invalid_job_transition",
                "Job state conflict",
            ),
            Self::Library(L::Unavailable(_))
            | Self::Jobs(JobQueueError::Unavailable(_))
            | Self::Settings(earmark_core::ports::SettingsStoreError::Unavailable(_))
            | Self::Schedule(earmark_core::ports::ScheduleStoreError::Unavailable(_))
            | Self::Webhooks(earmark_core::ports::WebhookStoreError::Unavailable(_))
            | Self::LocalItems(earmark_core::ports::LocalItemStoreError::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "Database unavailable",
            ),
            Self::Library(L::Storage(_))
            | Self::Jobs(JobQueueError::Storage(_))
            | Self::Settings(earmark_core::ports::SettingsStoreError::Storage(_))
            | Self::Schedule(earmark_core::ports::ScheduleStoreError::Storage(_))
            | Self::Webhooks(earmark_core::ports::WebhookStoreError::Storage(_))
            | Self::LocalItems(earmark_core::ports::LocalItemStoreError::Storage(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            ),
        }
    }

    /// The problem document for this error. Internal failures are logged here and described
    /// to the client without their internals.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.classify();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, code, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the database is not answering; retry shortly, and check /healthz".to_owned()
                }
                _ => "an internal error occurred; the server log has the details".to_owned(),
            }
        } else {
            self.to_string()
        };
        Problem {
            type_uri: format!("urn:earmark:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.classify().0
    }

    fn error_response(&self) -> HttpResponse {
        let problem = self.problem();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Self::TooManyFailures(wait) = self {
            response.insert_header((header::RETRY_AFTER, wait.to_string()));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.join(", ")));
        }
        if matches!(self, Self::Unauthorized | Self::BadToken(_)) {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"earmark\", Basic realm=\"earmark\""),
            ));
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let err = ApiError::Library(LibraryRepoError::Storage(
            "password=hunter2 in a DSN".into(),
        ));
        let problem = err.problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (500, "internal_error")
        );
        assert!(!problem.detail.contains("hunter2"));
    }

    #[test]
    fn not_found_names_the_missing_thing() {
        let asin = earmark_core::Asin::parse("B0036UC3KU").unwrap();
        let problem = ApiError::Library(LibraryRepoError::BookNotFound(asin)).problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (404, "book_not_found")
        );
        assert!(problem.detail.contains("B0036UC3KU"));
        assert_eq!(problem.type_uri, "urn:earmark:problem:book_not_found");
    }
}
