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

/// The pattern of an audible-cli profile name earmark accepts: it names a file under the
/// audible config directory, so nothing that could leave it.
pub const PROFILE_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// An audible-cli profile name as the API documents it ([`PROFILE_PATTERN`]).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ProfileName(pub String);

impl utoipa::PartialSchema for ProfileName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(PROFILE_PATTERN))
            .examples([serde_json::json!("earmark")])
            .into()
    }
}

impl utoipa::ToSchema for ProfileName {}

/// `name` as a profile name, or a 422 that says what one looks like.
pub fn check_profile(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Validation(format!(
            "profile `{name}`: 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter or digit"
        )))
    }
}

/// A string schema that takes one of `names`.
fn one_of(names: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names.iter().copied()))
        .into()
}

/// A string schema of comma-separated `names` (an empty item is passed over, as
/// [`upper_list`] does).
fn list_of(names: &[&str]) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let item = names.join("|");
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^({item})?(,({item})?)*$")))
        .examples([serde_json::json!(
            names.first().copied().unwrap_or_default()
        )])
        .into()
}

/// Declares documented string types: each takes one of its names (`one_of`) or a
/// comma-separated list of them (`list_of`), so that a parameter's schema lists exactly what
/// the server parses.
macro_rules! wire_strings {
    ($($form:ident $name:ident => $names:expr, $about:literal;)+) => {$(
        #[doc = concat!($about, ", as the API documents it.")]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $form(&$names)
            }
        }

        impl utoipa::ToSchema for $name {}
    )+};
}

/// The wire names of a core enumeration, in declaration order.
macro_rules! names_of {
    ($enum:ty) => {
        <$enum>::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<&'static str>>()
    };
}

wire_strings! {
    list_of JobStatusList => names_of!(earmark_core::JobStatus), "Comma-separated job statuses";
    list_of FinishedStatusList => ["COMPLETED", "FAILED", "CANCELLED"], "Comma-separated finished job statuses";
    list_of BookStatusList => names_of!(earmark_core::BookStatus), "Comma-separated book statuses";
    one_of TaskTypeFilter => names_of!(earmark_core::TaskType), "A task type to list";
    one_of ImportModeName => names_of!(earmark_core::ImportMode), "How an import puts files in place";
    one_of SortKeyName => names_of!(earmark_core::BookSortKey), "A sort key";
    one_of SortDirectionName => names_of!(earmark_core::SortDirection), "A sort direction";
    one_of ContentTypeName => names_of!(earmark_core::ContentType), "A content type";
    one_of DownloadFormatName => names_of!(earmark_core::DownloadFormat), "A download format";
    one_of OutputFormatName => names_of!(earmark_core::OutputFormat), "An output format";
    one_of ConversionModeName => names_of!(earmark_core::ConversionMode), "A conversion mode";
    one_of CoverSize => earmark_core::domain::settings::COVER_SIZES, "A cover size Audible serves";
    one_of MoveFilesPolicy => earmark_core::domain::settings::MOVE_FILES_POLICIES, "What to do with misplaced files";
    one_of WebhookEventName => names_of!(earmark_core::domain::webhook::WebhookEvent), "A webhook event";
    one_of DeliveryStatusName => names_of!(earmark_core::domain::webhook::DeliveryStatus), "Where a webhook delivery stands";
}

/// `object` requiring at least one of `fields` (an `allOf` with an `anyOf` of `required`):
/// a request that names its books one way or another.
pub fn requiring_one_of(
    object: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    fields: &[&str],
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder};
    let named = fields.iter().fold(AnyOfBuilder::new(), |any, field| {
        any.item(ObjectBuilder::new().required(*field))
    });
    AllOfBuilder::new().item(object).item(named).into()
}
