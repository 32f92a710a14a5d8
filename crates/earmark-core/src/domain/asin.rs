//! The Amazon Standard Identification Number that names every book.

use std::fmt;
use std::str::FromStr;

/// A validated ASIN: exactly 10 characters, each `0-9` or `A-Z`.
///
/// Input is neither trimmed nor case-folded: Audible's ASINs are upper case without white
/// space, and anything else is more likely a mistake (or a probe) than a book.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asin(String);

/// Why a string is not an ASIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsinError {
    /// Not exactly ten characters long.
    #[error("an ASIN has exactly 10 characters, `{0}` has {1}")]
    Length(String, usize),
    /// Contains something other than digits and upper-case ASCII letters.
    #[error("an ASIN contains only digits and upper-case letters A-Z, `{0}` does not")]
    Charset(String),
}

impl Asin {
    /// Length of every ASIN.
    pub const LEN: usize = 10;

    /// Validates `raw`, exactly as given, as an ASIN.
    ///
    /// # Errors
    /// [`AsinError`] naming what is wrong with the input.
    pub fn parse(raw: &str) -> Result<Self, AsinError> {
        let value = raw;
        let count = value.chars().count();
        if count != Self::LEN {
            return Err(AsinError::Length(value.to_owned(), count));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            return Err(AsinError::Charset(value.to_owned()));
        }
        Ok(Self(value.to_owned()))
    }

    /// The ASIN as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Asin {
    type Err = AsinError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Asin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Asin {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Asin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Asin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_audible_asins() {
        for ok in ["B0036UC3KU", "1774241404"] {
            assert!(Asin::parse(ok).is_ok(), "{ok:?} should parse");
        }
    }

    /// Issue 19, defect 4: surrounding white space was trimmed and the ASIN accepted.
    #[test]
    fn rejects_white_space_around_or_inside() {
        for bad in [
            " B002V5D1CG",
            "B002V5D1CG ",
            " B002V5D1CG\n",
            "B002V 5D1C",
            "\tB002V5D1C",
        ] {
            assert!(Asin::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn rejects_wrong_length_and_characters() {
        assert_eq!(Asin::parse("B00"), Err(AsinError::Length("B00".into(), 3)));
        assert_eq!(
            Asin::parse("B0036UC3KUX"),
            Err(AsinError::Length("B0036UC3KUX".into(), 11))
        );
        assert_eq!(
            Asin::parse("b0036uc3ku"),
            Err(AsinError::Charset("b0036uc3ku".into()))
        );
        assert_eq!(
            Asin::parse("B0036/../U"),
            Err(AsinError::Charset("B0036/../U".into()))
        );
        assert!(matches!(
            Asin::parse("B0036UC3KÜ"),
            Err(AsinError::Charset(_))
        ));
    }

    #[test]
    fn serde_validates() {
        let parsed: Result<Asin, _> = serde_json::from_str("\"B0036UC3KU\"");
        assert_eq!(
            parsed.map(|a| a.as_str().to_owned()).ok(),
            Some("B0036UC3KU".to_owned())
        );
        assert!(serde_json::from_str::<Asin>("\"nope\"").is_err());
    }
}
