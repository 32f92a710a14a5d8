//! Which `Range` headers reach actix-files: one syntactically valid byte range, or none.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;

/// Keeps a `Range` header only when it is one syntactically valid byte range; drops it
/// otherwise (garbage, `5-1`, overflowing numbers, several ranges), so the file is sent whole.
pub async fn only_one_valid_range(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let keep = match req.headers().get(header::RANGE).map(|v| v.to_str()) {
        None => true,
        Some(Ok(value)) => is_one_valid_byte_range(value),
        Some(Err(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(header::RANGE);
    }
    next.call(req).await
}

/// Whether `value` is `bytes=` followed by exactly one valid range spec, or not about bytes
/// at all (actix-files ignores other units itself).
pub fn is_one_valid_byte_range(value: &str) -> bool {
    let Some((unit, specs)) = value.split_once('=') else {
        return false;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return true;
    }
    if specs.split(',').filter(|s| !s.trim().is_empty()).count() != 1 {
        return false;
    }
    // Parsed against the largest size, only syntax can fail; `-0` is valid but unsatisfiable.
    match http_range::HttpRange::parse(&format!("bytes={}", specs.trim()), u64::MAX) {
        Ok(ranges) => ranges.len() == 1,
        Err(http_range::HttpRangeParseError::NoOverlap) => true,
        Err(http_range::HttpRangeParseError::InvalidRange) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_well_formed_byte_ranges_survive() {
        for kept in [
            "bytes=0-99",
            "bytes=100-",
            "bytes=-500",
            "bytes=-0",
            "bytes= 7-9 ",
            "items=1-2",
        ] {
            assert!(is_one_valid_byte_range(kept), "{kept}");
        }
        for dropped in [
            "bytes=5-1",
            "bytes=abc",
            "bytes=",
            "bytes=0-1,5-6",
            "bytes=99999999999999999999999-",
            "bytes",
            "garbage",
            "bytes=--5",
            "bytes=1-2-3",
        ] {
            assert!(!is_one_valid_byte_range(dropped), "{dropped}");
        }
    }
}
