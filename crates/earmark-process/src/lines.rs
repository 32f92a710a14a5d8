//! Turning a byte stream into lines the way terminals show them, and keeping secrets out.

/// Splits bytes into lines at `\n`, `\r` or `\r\n`, capping each line at a maximum length.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
    truncated: bool,
    after_cr: bool,
}

/// What is appended to a line cut at the maximum length.
pub const TRUNCATION_MARK: &str = " [...]";

impl LineSplitter {
    /// A splitter whose lines hold at most `max` bytes of content.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max: max.max(1),
            truncated: false,
            after_cr: false,
        }
    }

    /// Feeds `bytes`, returning every line they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        for &b in bytes {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    lines.push(self.take());
                }
                _ => {
                    self.after_cr = false;
                    if self.buf.len() < self.max {
                        self.buf.push(b);
                    } else {
                        self.truncated = true;
                    }
                }
            }
        }
        lines
    }

    /// The last line, if the stream ended without a terminator.
    pub fn finish(&mut self) -> Option<String> {
        (!self.buf.is_empty() || self.truncated).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.buf).into_owned();
        if std::mem::take(&mut self.truncated) {
            line.push_str(TRUNCATION_MARK);
        }
        self.buf.clear();
        line
    }
}

/// Replaces secrets (activation bytes, keys, tokens) in text with `[redacted]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// What a secret is replaced with.
    pub const MASK: &'static str = "[redacted]";

    /// Adds a secret. Secrets shorter than 4 characters are refused: masking them would mangle
    /// ordinary text without protecting anything.
    pub fn add(&mut self, secret: impl Into<String>) -> &mut Self {
        let secret = secret.into();
        if secret.len() >= 4 && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            // Longest first, so a secret containing another is masked whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    /// `text` with every secret masked, case-insensitively for hex-looking secrets.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if secret.bytes().all(|b| b.is_ascii_hexdigit()) {
                out = replace_ascii_case_insensitive(&out, secret);
            } else {
                out = out.replace(secret.as_str(), Self::MASK);
            }
        }
        out
    }
}

fn replace_ascii_case_insensitive(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in lower.match_indices(&needle) {
        out.push_str(&text[last..at]);
        out.push_str(Redactor::MASK);
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_newline_carriage_return_or_both() {
        let mut s = LineSplitter::new(100);
        assert_eq!(
            s.push(b"one\ntwo\r\nthree\rfo"),
            vec!["one", "two", "three"]
        );
        assert_eq!(s.push(b"ur\r\r\n"), vec!["four", ""]);
        assert_eq!(s.push(b"\nlast"), vec![""]);
        assert_eq!(s.finish().as_deref(), Some("last"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn progress_bars_become_one_line_per_update() {
        let mut s = LineSplitter::new(100);
        let lines = s.push(b"size=  1kB time=00:00:01.00\rsize=  2kB time=00:00:02.00\r");
        assert_eq!(
            lines,
            vec!["size=  1kB time=00:00:01.00", "size=  2kB time=00:00:02.00"]
        );
    }

    #[test]
    fn long_lines_are_capped_and_bad_utf8_is_replaced() {
        let mut s = LineSplitter::new(5);
        assert_eq!(
            s.push(b"abcdefghij\nok\n"),
            vec![format!("abcde{TRUNCATION_MARK}"), "ok".into()]
        );
        assert_eq!(s.push(b"\xff\xfeok\n"), vec!["\u{fffd}\u{fffd}ok"]);
    }

    #[test]
    fn secrets_are_masked_hex_in_any_case() {
        let mut r = Redactor::default();
        r.add("1ceb00da").add("abc").add("key=SECRET-VALUE");
        assert_eq!(
            r.redact("-activation_bytes 1CEB00DA ok"),
            "-activation_bytes [redacted] ok"
        );
        assert_eq!(
            r.redact("key=SECRET-VALUE abc"),
            "[redacted] abc",
            "3-char secrets are refused"
        );
    }
}
