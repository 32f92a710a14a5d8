//! [`AudiblePositions`] through `audible api`: Audible's last-heard positions, read and
//! written one call per request, as the library sync reads the library.
//!
//! Shapes (as verified for the positions issue, and as audible-cli's own `cmd_download.py`
//! asks for a licence):
//! - `GET 1.0/annotations/lastpositions?asins=A,B` → `{"asin_last_position_heard_annots":
//!   [{"asin", "last_position_heard": {"position_ms", "last_updated": "YYYY-MM-DD
//!   hh:mm:ss.fff" (UTC, no zone), "status": "Exists" | "DoesNotExist"}}]}`;
//! - `PUT 1.0/lastpositions/{asin}` with `{"acr", "asin", "position_ms"}` → empty 2xx;
//! - `POST 1.0/content/{asin}/licenserequest` → `{"content_license": {"acr", ...}}`.

use std::path::Path;

use async_trait::async_trait;
use earmark_core::Asin;
use earmark_core::ports::{
    AudiblePositions, CallLog, LibrarySourceError, MAX_ASINS_PER_READ, RemotePosition,
};
use serde_json::{Value, json};
use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::cli::{AudibleCli, classify_failure};

/// Audible's positions, through audible-cli.
#[derive(Debug, Clone)]
pub struct AudiblePositionsApi {
    cli: AudibleCli,
}

impl AudiblePositionsApi {
    /// Reads and writes through `cli`.
    pub fn new(cli: AudibleCli) -> Self {
        Self { cli }
    }

    /// Runs `audible [-P profile] api <args>` and returns its JSON answer (`null` for an
    /// empty one).
    async fn api(
        &self,
        profile: Option<&str>,
        args: Vec<String>,
        log: CallLog<'_>,
    ) -> Result<Value, LibrarySourceError> {
        if !self.cli.has_config() {
            return Err(LibrarySourceError::NoProfile(profile.map(str::to_owned)));
        }
        let spec = self
            .cli
            .spec(profile, std::iter::once("api".to_owned()).chain(args));
        let (finished, out) = self.cli.call(&spec, log).await?;
        if !finished.success {
            return Err(classify_failure(profile, &finished));
        }
        let text = out.join("\n");
        match text.trim() {
            "" | "\"\"" => Ok(Value::Null),
            body => serde_json::from_str(body)
                .map_err(|e| LibrarySourceError::Malformed(format!("not JSON ({e})"))),
        }
    }
}

/// Audible's `last_updated`: UTC without a zone, with or without milliseconds.
fn parse_last_updated(text: &str) -> Option<time::OffsetDateTime> {
    let with_millis =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, with_millis)
        .or_else(|_| PrimitiveDateTime::parse(text, whole))
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// The positions of a read's answer that exist.
fn positions_of(answer: &Value) -> Result<Vec<RemotePosition>, LibrarySourceError> {
    let Some(items) = answer
        .get("asin_last_position_heard_annots")
        .and_then(Value::as_array)
    else {
        return Err(LibrarySourceError::Malformed(
            "the position answer has no `asin_last_position_heard_annots`".into(),
        ));
    };
    let mut positions = Vec::new();
    for item in items {
        let heard = &item["last_position_heard"];
        if heard["status"].as_str() != Some("Exists") {
            continue;
        }
        let asin = item["asin"].as_str().and_then(|a| Asin::parse(a).ok());
        let position_ms = heard["position_ms"].as_u64();
        let last_updated = heard["last_updated"].as_str().and_then(parse_last_updated);
        match (asin, position_ms, last_updated) {
            (Some(asin), Some(position_ms), Some(last_updated)) => {
                positions.push(RemotePosition {
                    asin,
                    position_ms,
                    last_updated,
                });
            }
            _ => {
                return Err(LibrarySourceError::Malformed(format!(
                    "a position earmark cannot read: {item}"
                )));
            }
        }
    }
    Ok(positions)
}

#[async_trait]
impl AudiblePositions for AudiblePositionsApi {
    async fn read(
        &self,
        profile: Option<&str>,
        asins: &[Asin],
        log: CallLog<'_>,
    ) -> Result<Vec<RemotePosition>, LibrarySourceError> {
        let mut positions = Vec::new();
        for chunk in asins.chunks(MAX_ASINS_PER_READ) {
            let list: Vec<&str> = chunk.iter().map(Asin::as_str).collect();
            let answer = self
                .api(
                    profile,
                    vec![
                        "1.0/annotations/lastpositions".into(),
                        "-p".into(),
                        format!("asins={}", list.join(",")),
                    ],
                    log,
                )
                .await?;
            positions.extend(positions_of(&answer)?);
        }
        Ok(positions)
    }

    async fn write(
        &self,
        profile: Option<&str>,
        asin: &Asin,
        acr: &str,
        position_ms: u64,
        log: CallLog<'_>,
    ) -> Result<(), LibrarySourceError> {
        let body = json!({"acr": acr, "asin": asin.as_str(), "position_ms": position_ms});
        self.api(
            profile,
            vec![
                format!("1.0/lastpositions/{asin}"),
                "-m".into(),
                "PUT".into(),
                "-b".into(),
                body.to_string(),
            ],
            log,
        )
        .await?;
        Ok(())
    }

    async fn licence_acr(
        &self,
        profile: Option<&str>,
        asin: &Asin,
        voucher: Option<&Path>,
        log: CallLog<'_>,
    ) -> Result<String, LibrarySourceError> {
        if let Some(voucher) = voucher
            && let Some(acr) = crate::download::licence_acr_of(voucher).await
        {
            return Ok(acr);
        }
        log(&format!(
            "{asin}: asking Audible for a licence to learn its acr"
        ));
        // audible-cli's own licence request body (cmd_download.py, `get_license`).
        let body = json!({
            "supported_drm_types": ["Mpeg", "Adrm"],
            "quality": "High",
            "consumption_type": "Download",
            "response_groups": "last_position_heard,pdf_url,content_reference"
        });
        let answer = self
            .api(
                profile,
                vec![
                    format!("1.0/content/{asin}/licenserequest"),
                    "-m".into(),
                    "POST".into(),
                    "-b".into(),
                    body.to_string(),
                ],
                log,
            )
            .await?;
        let licence = &answer["content_license"];
        if licence["status_code"].as_str() == Some("Denied") {
            let message = licence["message"].as_str().unwrap_or("licence denied");
            return Err(LibrarySourceError::Throttled(format!(
                "Audible refused a licence for {asin}: {message}"
            )));
        }
        licence["acr"]
            .as_str()
            .filter(|acr| !acr.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                LibrarySourceError::Malformed(format!("the licence for {asin} has no acr"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_positions_are_read_and_absent_ones_left_out() {
        let answer = json!({"asin_last_position_heard_annots": [
            {"asin": "B000000001", "last_position_heard": {"position_ms": 372000, "last_updated": "2026-08-18 21:04:11.000", "status": "Exists"}},
            {"asin": "B000000002", "last_position_heard": {"status": "DoesNotExist"}},
            {"asin": "B000000003", "last_position_heard": {"position_ms": 5, "last_updated": "2026-08-18 21:04:11", "status": "Exists"}}
        ]});
        let positions = positions_of(&answer).unwrap();
        assert_eq!(positions.len(), 2);
        assert_eq!(positions[0].position_ms, 372_000);
        assert_eq!(
            positions[0].last_updated,
            time::macros::datetime!(2026-08-18 21:04:11 UTC)
        );
        assert_eq!(positions[1].asin.as_str(), "B000000003");
        assert!(positions_of(&json!({"items": []})).is_err());
        let odd = json!({"asin_last_position_heard_annots": [
            {"asin": "B000000001", "last_position_heard": {"position_ms": 1, "last_updated": "yesterday", "status": "Exists"}}
        ]});
        assert!(matches!(
            positions_of(&odd),
            Err(LibrarySourceError::Malformed(_))
        ));
    }
}
