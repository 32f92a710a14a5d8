//! The `LocalItemStore` contract.

use std::sync::Arc;

use earmark_core::domain::local_item::{LocalItemQuery, NewLocalItem};
use earmark_core::ports::{LocalItemStore, LocalItemStoreError};

/// Runs the local-item contract against `$setup`'s fixtures.
#[macro_export]
macro_rules! local_item_store_contract {
    ($setup:path) => {
        $crate::__contract_tests!(
            $setup, local_items, local_items:
            an_item_is_registered_once_per_path,
            items_page_by_title_and_search_title_and_authors,
        );
    };
}

fn item(title: &str, path: &str) -> NewLocalItem {
    NewLocalItem {
        asin: None,
        title: title.into(),
        authors: None,
        path: path.into(),
        format: Some("mp3".into()),
        size: 10,
        mime: "audio/mpeg".into(),
    }
}

/// Registering a path again updates its item; items are found by id and forgotten.
pub async fn an_item_is_registered_once_per_path(store: Arc<dyn LocalItemStore>) {
    let first = store
        .add_local_item(item("Stranger", "/data/converted/Stranger.mp3"))
        .await
        .unwrap();
    let again = store
        .add_local_item(NewLocalItem {
            title: "Stranger, tagged".into(),
            authors: Some("Ann Author".into()),
            size: 11,
            ..item("", "/data/converted/Stranger.mp3")
        })
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(
        (again.title.as_str(), again.authors.as_deref(), again.size),
        ("Stranger, tagged", Some("Ann Author"), 11)
    );
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(store.get_local_item(first.id).await.unwrap(), again);
    assert_eq!(store.all_local_items().await.unwrap(), vec![again]);

    store.remove_local_item(first.id).await.unwrap();
    store.remove_local_item(first.id).await.unwrap();
    assert!(matches!(
        store.get_local_item(first.id).await,
        Err(LocalItemStoreError::NotFound(id)) if id == first.id
    ));
    assert!(store.all_local_items().await.unwrap().is_empty());
}

/// Pages are ordered by title, count every match, and a search matches words of the title
/// or the authors, case-insensitively, `%` and `_` literally.
pub async fn items_page_by_title_and_search_title_and_authors(store: Arc<dyn LocalItemStore>) {
    for (title, authors) in [
        ("Charlie", None),
        ("alpha", Some("Zed Writer")),
        ("Bravo 100%", None),
        ("Delta", Some("Ann Author")),
        ("Echo", None),
    ] {
        store
            .add_local_item(NewLocalItem {
                authors: authors.map(str::to_owned),
                ..item(title, &format!("/data/converted/{title}.mp3"))
            })
            .await
            .unwrap();
    }
    let page = |page, page_size, search: Option<&str>| LocalItemQuery {
        page,
        page_size,
        search: search.map(str::to_owned),
    };
    let titles = |p: &earmark_core::domain::local_item::LocalItemPage| {
        p.items.iter().map(|i| i.title.clone()).collect::<Vec<_>>()
    };
    let first = store.list_local_items(page(1, 2, None)).await.unwrap();
    assert_eq!(first.total, 5);
    let second = store.list_local_items(page(2, 2, None)).await.unwrap();
    let third = store.list_local_items(page(3, 2, None)).await.unwrap();
    let all: Vec<String> = [titles(&first), titles(&second), titles(&third)].concat();
    assert_eq!(all.len(), 5);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "ordered by title");

    let by_author = store
        .list_local_items(page(1, 50, Some("ann")))
        .await
        .unwrap();
    assert_eq!(
        (titles(&by_author), by_author.total),
        (vec!["Delta".to_owned()], 1)
    );
    let by_title = store
        .list_local_items(page(1, 50, Some("ALPHA writer")))
        .await
        .unwrap();
    assert_eq!(titles(&by_title), vec!["alpha".to_owned()]);
    let literal = store
        .list_local_items(page(1, 50, Some("0%")))
        .await
        .unwrap();
    assert_eq!(titles(&literal), vec!["Bravo 100%".to_owned()]);
    let none = store
        .list_local_items(page(1, 50, Some("_")))
        .await
        .unwrap();
    assert_eq!(none.total, 0);
}
