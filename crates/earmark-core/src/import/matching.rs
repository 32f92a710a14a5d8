//! Which book of the library an imported file (or chapter folder) is: an ASIN in its tags,
//! else an ASIN-shaped word in its path, else its title and author with its length within 2 %
//! of the book's.

use std::collections::{BTreeMap, HashSet};

use crate::domain::asin::Asin;
use crate::domain::book::Book;

/// The tag keys rippers put an ASIN under (lower case, any `----:com.apple.iTunes:` prefix
/// stripped): Libation and OpenAudible write `asin`/`audible_asin`, iTunes-style tools `cdek`.
const ASIN_KEYS: &[&str] = &[
    "asin",
    "audible_asin",
    "audibleasin",
    "cdek",
    "audible asin",
];

/// The smallest share of words two titles must have in common.
const TITLE_SIMILARITY: f64 = 0.75;

/// How the length may differ from the book's runtime: 2 %, but never less than the half
/// minute that Audible's whole-minute runtimes round away.
fn runtime_tolerance_ms(runtime_ms: u64) -> u64 {
    (runtime_ms / 50).max(30_000)
}

/// How a match was made, for the job's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// An ASIN tag.
    Tag,
    /// An ASIN in the file or folder name.
    Name,
    /// Title, author and length.
    Similarity,
}

impl std::fmt::Display for MatchedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MatchedBy::Tag => "its ASIN tag",
            MatchedBy::Name => "the ASIN in its name",
            MatchedBy::Similarity => "its title, author and length",
        })
    }
}

/// What an imported item says about itself.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    /// Its first file's tags (keys lower case).
    pub tags: Option<&'a BTreeMap<String, String>>,
    /// Its path relative to the import folder.
    pub relative_path: &'a str,
    /// Its whole length, when known.
    pub duration_ms: Option<u64>,
}

/// The book `evidence` names among `books`, and how.
pub fn match_book<'b>(evidence: &Evidence<'_>, books: &'b [Book]) -> Option<(&'b Book, MatchedBy)> {
    let by_asin = |asin: &Asin| books.iter().find(|b| &b.record.asin == asin);
    if let Some(book) = asin_in_tags(evidence.tags).as_ref().and_then(by_asin) {
        return Some((book, MatchedBy::Tag));
    }
    if let Some(book) = asin_words(evidence.relative_path).iter().find_map(by_asin) {
        return Some((book, MatchedBy::Name));
    }
    let title = evidence
        .tags
        .and_then(|t| t.get("album").or_else(|| t.get("title")))?;
    let author = evidence
        .tags
        .and_then(|t| t.get("artist").or_else(|| t.get("album_artist")))?;
    let duration = evidence.duration_ms?;
    let mut found = books.iter().filter(|book| {
        let runtime_ms = book
            .record
            .runtime_min
            .and_then(|m| u64::try_from(m).ok())
            .map(|m| m * 60_000);
        runtime_ms.is_some_and(|r| r.abs_diff(duration) <= runtime_tolerance_ms(r))
            && similarity(title, &book.record.title) >= TITLE_SIMILARITY
            && book
                .record
                .author
                .as_deref()
                .is_some_and(|a| shares_a_name(author, a))
    });
    let first = found.next()?;
    // Two books alike enough are no match: the person sorts those out.
    found
        .next()
        .is_none()
        .then_some((first, MatchedBy::Similarity))
}

/// The ASIN of the first ASIN tag that holds one.
pub fn asin_in_tags(tags: Option<&BTreeMap<String, String>>) -> Option<Asin> {
    tags?.iter().find_map(|(key, value)| {
        let key = key.rsplit(':').next().unwrap_or(key);
        ASIN_KEYS
            .contains(&key)
            .then(|| Asin::parse(value.trim()).ok())
            .flatten()
    })
}

/// The ASIN-shaped words of `text` (ten letters and digits, upper-cased).
pub fn asin_words(text: &str) -> Vec<Asin> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() == 10)
        .filter_map(|word| Asin::parse(&word.to_ascii_uppercase()).ok())
        .collect()
}

/// The lower-case words of `text`, without the words every audiobook title may carry.
fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !matches!(w.as_str(), "unabridged" | "abridged" | "the" | "a" | "an"))
        .collect()
}

/// The share of the two titles' words they have in common (0 to 1).
fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (words(a), words(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// Whether two author lists share a name word of three letters or more.
fn shares_a_name(a: &str, b: &str) -> bool {
    let b = words(b);
    words(a)
        .iter()
        .any(|w| w.chars().count() >= 3 && b.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(asin: &str, title: &str, author: &str, minutes: i32) -> Book {
        let mut record = crate::testing::record(asin, title);
        record.author = Some(author.into());
        record.runtime_min = Some(minutes);
        crate::testing::book(record)
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn library() -> Vec<Book> {
        vec![
            book(
                "B000000001",
                "The Left Hand of Darkness",
                "Ursula K. Le Guin",
                600,
            ),
            book(
                "B000000002",
                "A Wizard of Earthsea",
                "Ursula K. Le Guin",
                500,
            ),
            book(
                "B000000003",
                "A Wizard of Earthsea",
                "Ursula K. Le Guin",
                501,
            ),
        ]
    }

    #[test]
    fn an_asin_tag_wins_under_any_key_rippers_use() {
        let books = library();
        for key in ["asin", "audible_asin", "cdek", "----:com.apple.itunes:asin"] {
            let t = tags(&[(key, " B000000001 "), ("album", "A Wizard of Earthsea")]);
            let evidence = Evidence {
                tags: Some(&t),
                relative_path: "x/B000000002.m4b",
                duration_ms: None,
            };
            let (found, how) = match_book(&evidence, &books).unwrap();
            assert_eq!(
                (found.record.asin.as_str(), how),
                ("B000000001", MatchedBy::Tag),
                "{key}"
            );
        }
        // An ASIN of no book in the library falls through to the name.
        let t = tags(&[("asin", "B0NOTMINE1")]);
        let evidence = Evidence {
            tags: Some(&t),
            relative_path: "Libation/x [b000000002]/x.m4b",
            duration_ms: None,
        };
        let (found, how) = match_book(&evidence, &books).unwrap();
        assert_eq!(
            (found.record.asin.as_str(), how),
            ("B000000002", MatchedBy::Name)
        );
    }

    #[test]
    fn title_author_and_length_must_all_agree_and_be_unique() {
        let books = library();
        let t = tags(&[
            ("album", "The Left Hand of Darkness (Unabridged)"),
            ("artist", "Ursula K. Le Guin"),
        ]);
        let at = |ms| Evidence {
            tags: Some(&t),
            relative_path: "Book.m4b",
            duration_ms: Some(ms),
        };
        let (found, how) = match_book(&at(600 * 60_000 + 5 * 60_000), &books).unwrap();
        assert_eq!(
            (found.record.asin.as_str(), how),
            ("B000000001", MatchedBy::Similarity)
        );
        assert!(
            match_book(&at(640 * 60_000), &books).is_none(),
            "7 % longer"
        );
        let stranger = tags(&[
            ("album", "The Left Hand of Darkness"),
            ("artist", "Someone Else"),
        ]);
        let evidence = Evidence {
            tags: Some(&stranger),
            relative_path: "Book.m4b",
            duration_ms: Some(600 * 60_000),
        };
        assert!(match_book(&evidence, &books).is_none(), "another author");
        // Two books alike in title, author and length: neither is chosen.
        let twins = tags(&[("album", "A Wizard of Earthsea"), ("artist", "Le Guin")]);
        let evidence = Evidence {
            tags: Some(&twins),
            relative_path: "Book.m4b",
            duration_ms: Some(500 * 60_000),
        };
        assert!(match_book(&evidence, &books).is_none());
    }
}
