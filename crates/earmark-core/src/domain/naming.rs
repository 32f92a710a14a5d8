//! Naming schemes for converted files, made safe for AAXtoMP3, which runs them through `eval`.

use std::fmt;

/// Variables AAXtoMP3 fills from the book's metadata.
pub const BOOK_VARIABLES: &[&str] = &[
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
pub const CHAPTER_VARIABLES: &[&str] = &["chapter", "chapternum", "chaptercount"];
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

impl NamingScheme {
    /// The scheme with every variable replaced by `value(name)`, the way AAXtoMP3's
    /// `eval echo` leaves it: runs of whitespace become one space, ends are trimmed. A value
    /// never contributes a `/` (AAXtoMP3 strips them from metadata), so only the scheme's own
    /// slashes make directories. The result is a relative path; pass it through
    /// [`safe_relative_path`] before using it.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let raw = self.0.as_str();
        let mut out = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, len) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').unwrap_or(braced.len());
                (&braced[..end], (end + 2).min(after.len()))
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            out.push_str(&value(name).replace('/', ""));
            rest = &after[len..];
        }
        out.push_str(rest);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Characters a file name keeps besides letters and digits; anything else becomes `_`.
const SAFE_NAME_PUNCTUATION: &str = " -_.,()[]+#";

/// The longest file name component kept, in bytes (filesystems allow 255).
const MAX_COMPONENT_BYTES: usize = 200;

/// `raw` as one file name that is safe on any filesystem and inert in any shell: control
/// characters, quotes, `$`, backticks, `*`, `?`, `/`, `\`, `:` and the like become `_`; a
/// leading dot (hidden files, `..`) becomes `_`; an empty name becomes `_`.
pub fn safe_file_name(raw: &str) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || SAFE_NAME_PUNCTUATION.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim().to_owned();
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    while name.len() > MAX_COMPONENT_BYTES {
        name.pop();
    }
    if name.is_empty() {
        "_".to_owned()
    } else {
        name
    }
}

/// `raw` split at `/` into safe components ([`safe_file_name`]), empty ones dropped: the
/// result can never be absolute or leave the directory it is joined to.
pub fn safe_relative_path(raw: &str) -> std::path::PathBuf {
    raw.split('/')
        .filter(|part| !part.trim().is_empty())
        .map(safe_file_name)
        .collect()
}

impl serde::Serialize for NamingScheme {
    /// As the text it was parsed from; reading it back parses it again.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
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

    #[test]
    fn rendering_fills_variables_and_never_lets_a_value_make_a_directory() {
        let scheme = NamingScheme::parse("${artist}/$series_sequence  -  $title", false).unwrap();
        let rendered = scheme.render(|name| match name {
            "artist" => "Ann / Bob".into(),
            "title" => "$(touch x) ../up".into(),
            _ => String::new(),
        });
        assert_eq!(rendered, "Ann Bob/ - $(touch x) ..up");
        let path = safe_relative_path(&rendered);
        assert_eq!(path, std::path::PathBuf::from("Ann Bob/- _(touch x) ..up"));
    }

    #[test]
    fn safe_names_are_inert_and_stay_inside() {
        assert_eq!(safe_file_name("a*b?c\"d`e\nf:g"), "a_b_c_d_e_f_g");
        assert_eq!(safe_file_name(".."), "_.");
        assert_eq!(safe_file_name(".hidden"), "_hidden");
        assert_eq!(safe_file_name("  "), "_");
        assert_eq!(safe_file_name("Ünïcödé Title (1)"), "Ünïcödé Title (1)");
        assert_eq!(
            safe_relative_path("/../a//b/"),
            std::path::PathBuf::from("_./a/b")
        );
        assert_eq!(safe_file_name(&"x".repeat(300)).len(), 200);
    }
}
