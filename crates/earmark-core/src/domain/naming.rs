//! Naming schemes for converted files, made safe for AAXtoMP3, which runs them through `eval`.

use std::fmt;

/// Variables AAXtoMP3 fills from the book's metadata.
const BOOK_VARIABLES: &[&str] = &[
    "title",
    "artist",
    "album_artist",
    "album",
    "album_date",
    "genre",
    "narrator",
    "series",
    "series_sequence",
];
/// Variables only the chapter naming scheme has.
const CHAPTER_VARIABLES: &[&str] = &["chapter", "chapternum", "chaptercount"];
/// Punctuation allowed as plain text; everything else that is not a letter or digit is refused.
const PLAIN_PUNCTUATION: &str = " -_.,()[]/+#";

/// A validated naming scheme: allow-listed `$variables` (or `${variables}`) and plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingScheme(String);

/// Which part of a scheme was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("naming scheme refused at `{part}`: {why}")]
pub struct NamingSchemeError {
    /// The offending part, as written.
    pub part: String,
    /// Why it is refused.
    pub why: &'static str,
}

fn refuse(part: impl Into<String>, why: &'static str) -> NamingSchemeError {
    NamingSchemeError {
        part: part.into(),
        why,
    }
}

impl NamingScheme {
    /// Validates a file or directory scheme (`chapter == false`) or a chapter scheme.
    ///
    /// # Errors
    /// [`NamingSchemeError`] naming the first offending part: command substitution, shell
    /// metacharacters, quotes, backslashes, `..`, a leading `/`, an unknown variable (including
    /// `$auth_code`), or an empty scheme.
    pub fn parse(raw: &str, chapter: bool) -> Result<Self, NamingSchemeError> {
        if raw.trim().is_empty() {
            return Err(refuse(
                raw,
                "a scheme needs at least one variable or character",
            ));
        }
        if raw.starts_with('/') {
            return Err(refuse("/", "a scheme may not start at the filesystem root"));
        }
        if raw.contains("..") {
            return Err(refuse("..", "a scheme may not leave the output directory"));
        }
        let mut chars = raw.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '$' => {
                    let rest = &raw[at + 1..];
                    let (name, len) = if let Some(braced) = rest.strip_prefix('{') {
                        let end = braced
                            .find('}')
                            .ok_or_else(|| refuse(&raw[at..], "an unclosed `${`"))?;
                        (&braced[..end], end + 2)
                    } else if rest.starts_with('(') {
                        return Err(refuse("$(", "command substitution is not allowed"));
                    } else {
                        let end = rest
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(rest.len());
                        (&rest[..end], end)
                    };
                    let known = BOOK_VARIABLES.contains(&name)
                        || (chapter && CHAPTER_VARIABLES.contains(&name));
                    if !known {
                        let why = if CHAPTER_VARIABLES.contains(&name) {
                            "chapter variables belong in the chapter naming scheme"
                        } else {
                            "not one of the variables a scheme may use"
                        };
                        return Err(refuse(format!("${name}"), why));
                    }
                    for _ in 0..len {
                        chars.next();
                    }
                }
                '`' => return Err(refuse("`", "command substitution is not allowed")),
                '\'' | '"' => return Err(refuse(c.to_string(), "quotes are not allowed")),
                '\\' => return Err(refuse("\\", "backslashes are not allowed")),
                ';' | '|' | '&' | '<' | '>' | '*' | '?' | '!' | '~' | '{' | '}' => {
                    return Err(refuse(
                        c.to_string(),
                        "shell metacharacters are not allowed",
                    ));
                }
                c if c.is_alphanumeric() || PLAIN_PUNCTUATION.contains(c) => {}
                c => {
                    return Err(refuse(
                        c.escape_default().to_string(),
                        "only letters, digits and  -_.,()[]/+# are allowed",
                    ));
                }
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The scheme as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NamingScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_listed_variables_and_plain_text_pass() {
        for ok in [
            "$title",
            "${artist}/${series}/$series_sequence - $title",
            "$album_date (Unabridged) [$narrator] #1, part+2",
        ] {
            assert!(NamingScheme::parse(ok, false).is_ok(), "{ok}");
        }
        assert!(
            NamingScheme::parse("$title - $chapternum of $chaptercount - $chapter", true).is_ok()
        );
        assert!(NamingScheme::parse("Ünïcödé $title", false).is_ok());
    }

    #[test]
    fn anything_that_could_run_code_or_escape_is_refused_by_name() {
        let cases = [
            ("$(rm -rf ~)", "$("),
            ("`id`", "`"),
            ("$title; rm x", ";"),
            ("$title | tee", "|"),
            ("$title && x", "&"),
            ("'$title'", "'"),
            ("\"$title\"", "\""),
            ("a\\b", "\\"),
            ("../$title", ".."),
            ("/etc/$title", "/"),
            ("$auth_code", "$auth_code"),
            ("$HOME", "$HOME"),
            ("${IFS}", "$IFS"),
            ("$title*", "*"),
            ("$title\n", "\\n"),
        ];
        for (scheme, part) in cases {
            let err = NamingScheme::parse(scheme, false).unwrap_err();
            assert_eq!(err.part, part, "{scheme:?}: {err}");
        }
        assert_eq!(
            NamingScheme::parse("$chapter", false).unwrap_err().part,
            "$chapter"
        );
        assert!(NamingScheme::parse("   ", false).is_err());
    }
}
