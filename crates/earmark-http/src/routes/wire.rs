//! Small conversions every route's wire format shares.

use std::str::FromStr;

use crate::error::ApiError;

/// A time as the API writes it: RFC 3339, UTC, `Z`.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A comma-separated list of upper-case wire names (`QUEUED,RUNNING`), case-insensitively;
/// a bad item is a 422 naming `param`.
pub fn upper_list<T>(param: &str, raw: Option<&str>) -> Result<Vec<T>, ApiError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    raw.map(|s| {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.trim().to_ascii_uppercase().parse::<T>())
            .collect::<Result<Vec<_>, _>>()
    })
    .transpose()
    .map_err(|e| ApiError::Validation(format!("{param}: {e}")))
    .map(Option::unwrap_or_default)
}

/// An ASIN as the API documents it: ten digits or upper-case letters, nothing around them.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AsinText(pub String);

impl utoipa::PartialSchema for AsinText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9A-Z]{10}$"))
            .examples([serde_json::json!("B002V5D1CG")])
            .into()
    }
}

impl utoipa::ToSchema for AsinText {}
