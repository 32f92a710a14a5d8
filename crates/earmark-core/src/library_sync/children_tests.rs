//! A sync of a library with podcasts and multi-part books: which parents' children are read.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;
use crate::domain::job::TaskType;
use crate::domain::library_query::{BookPage, ParentFilter};
use crate::domain::parenthood::ParentLink;
use crate::ports::MockLibraryRepo;
use crate::testing::{RecordingContext, book, record};

fn asin(n: u32) -> Asin {
    Asin::parse(&format!("B{n:09}")).unwrap()
}

fn item(n: u32, metadata: Value) -> BookRecord {
    let mut r = record(asin(n).as_str(), &format!("Item {n}"));
    r.metadata_json = metadata;
    r
}

/// A parent whose record lists `children` in its relationships (none: it lists nothing).
fn parent(n: u32, delivery: &str, children: &[u32]) -> BookRecord {
    let relationships: Vec<Value> = children
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"asin": asin(*c).as_str(), "relationship_to_product": "child", "relationship_type": "episode", "sort": (i + 1).to_string()}))
        .collect();
    item(
        n,
        json!({"content_delivery_type": delivery, "has_children": true, "relationships": relationships}),
    )
}

fn child(n: u32, of: u32, position: u32) -> BookRecord {
    let mut r = item(n, json!({"content_delivery_type": "PodcastEpisode"}));
    r.parent = Some(ParentLink {
        asin: asin(of),
        position,
    });
    r
}

/// The library's top level, and each parent's children as Audible lists them.
struct Source {
    top: Vec<BookRecord>,
    children: HashMap<Asin, Vec<BookRecord>>,
    asked: Mutex<Vec<Asin>>,
}

#[async_trait]
impl LibrarySource for Source {
    async fn fetch_library(
        &self,
        _profile: Option<&str>,
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        Ok(self.top.clone())
    }

    async fn fetch_children(
        &self,
        _profile: Option<&str>,
        parents: &[BookRecord],
        _ctx: &dyn JobContext,
    ) -> Result<Vec<BookRecord>, LibrarySourceError> {
        let mut asked = self.asked.lock().unwrap();
        Ok(parents
            .iter()
            .flat_map(|p| {
                asked.push(p.asin.clone());
                self.children.get(&p.asin).cloned().unwrap_or_default()
            })
            .collect())
    }
}

/// Stored children of each parent.
fn repo_with(stored: HashMap<Asin, Vec<u32>>) -> MockLibraryRepo {
    let mut repo = MockLibraryRepo::new();
    repo.expect_list_books().returning(move |query| {
        let ParentFilter::ChildrenOf(parent) = &query.parent else {
            panic!("only children are listed: {query:?}");
        };
        let books: Vec<Book> = stored
            .get(parent)
            .into_iter()
            .flatten()
            .map(|n| book(item(*n, json!({}))))
            .collect();
        Ok(BookPage {
            total: books.len() as u64,
            books,
        })
    });
    repo
}

#[tokio::test]
async fn only_parents_whose_children_may_have_changed_are_read() {
    let source = Source {
        top: vec![
            item(1, json!({"content_delivery_type": "SinglePartBook"})),
            // Lists exactly the stored episodes: left as stored.
            parent(2, "PodcastParent", &[21, 22]),
            // Lists a new episode: read.
            parent(3, "PodcastParent", &[31, 32]),
            // Lists nothing: whether it changed cannot be known, read.
            parent(4, "MultiPartBook", &[]),
        ],
        children: HashMap::from([
            (asin(3), vec![child(31, 3, 1), child(32, 3, 2)]),
            (asin(4), vec![child(41, 4, 1), child(42, 4, 2)]),
        ]),
        asked: Mutex::default(),
    };
    let mut repo = repo_with(HashMap::from([
        (asin(2), vec![21, 22]),
        (asin(3), vec![31]),
        (asin(4), vec![41, 42]),
    ]));
    let written = Arc::new(Mutex::new(Vec::new()));
    let into = written.clone();
    repo.expect_upsert_books().returning(move |batch| {
        into.lock()
            .unwrap()
            .extend(batch.iter().map(|r| r.asin.clone()));
        Ok(UpsertSummary::default())
    });
    let present = Arc::new(Mutex::new(Vec::new()));
    let kept = present.clone();
    repo.expect_mark_removed_except().returning(move |asins| {
        *kept.lock().unwrap() = asins;
        Ok(0)
    });
    let source = Arc::new(source);
    let sync = LibrarySync::new(source.clone(), Arc::new(repo));
    let spec = JobSpec::read(TaskType::Sync, None, "{}");
    let ctx = RecordingContext::new(spec, "/nonexistent");
    sync.run(&ctx).await.unwrap();

    assert_eq!(*source.asked.lock().unwrap(), [asin(3), asin(4)]);
    let written = written.lock().unwrap().clone();
    assert_eq!(
        written,
        [1, 2, 3, 4, 31, 32, 41, 42].map(asin),
        "the unchanged podcast's episodes are not written again"
    );
    let mut present = present.lock().unwrap().clone();
    present.sort();
    assert_eq!(
        present,
        [1, 2, 3, 4, 21, 22, 31, 32, 41, 42].map(asin),
        "nor are they taken for removed"
    );
    assert!(
        ctx.log_text()
            .contains("4 episodes and parts read from 2 parents; 1 parents unchanged"),
        "{}",
        ctx.log_text()
    );
}

#[test]
fn new_episodes_of_known_podcasts_are_downloaded_not_new_podcasts_back_catalogues() {
    let added = vec![
        item(1, json!({"content_delivery_type": "SinglePartBook"})),
        parent(2, "PodcastParent", &[21]),
        child(21, 2, 1),
        child(31, 3, 7),
        parent(4, "MultiPartBook", &[41]),
        {
            let mut part = child(41, 4, 1);
            part.metadata_json = json!({"content_delivery_type": "AudioPart"});
            part
        },
    ];
    assert_eq!(
        crate::unattended::new_books::worth_downloading(&added),
        [asin(1), asin(31), asin(4)]
    );
}
