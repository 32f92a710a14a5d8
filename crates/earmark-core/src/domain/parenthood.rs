//! Podcasts and multi-part books: library items that hold other items.
//!
//! Audible's `1.0/library` lists a podcast (`content_delivery_type` `PodcastParent` or
//! `Periodical`, or `content_type` `Podcast`) and a book sold in parts (`MultiPartBook`) as a
//! parent with `has_children`; its episodes or parts (`PodcastEpisode`, `AudioPart`) come from
//! `1.0/library?parent_asin=<parent>`. A parent has no audio of its own. audible-cli reads them
//! the same way (`models.py` `is_parent_podcast`, `get_child_items`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::asin::Asin;

/// Where an episode or part sits: under which parent, and at which place among its siblings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The podcast or multi-part book.
    pub asin: Asin,
    /// Its place among the parent's children, from 1 (Audible's `sort`, else the order the
    /// children were listed in).
    pub position: u32,
}

/// What kind of library item a record is, as far as children go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A book, an episode or a part: an item with audio of its own.
    Playable,
    /// A podcast whose episodes are listed under it.
    Podcast,
    /// A book sold in parts; the parts are listed under it, it has no audio itself.
    MultiPartBook,
}

fn field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

impl ItemKind {
    /// What Audible's library item says it is. Only an item with `has_children` is a parent,
    /// as audible-cli decides.
    pub fn of_item(item: &Value) -> Self {
        let has_children = item.get("has_children").and_then(Value::as_bool) == Some(true);
        if !has_children {
            return ItemKind::Playable;
        }
        match field(item, "content_delivery_type") {
            Some("MultiPartBook") => ItemKind::MultiPartBook,
            Some("PodcastParent" | "Periodical") => ItemKind::Podcast,
            _ if field(item, "content_type") == Some("Podcast") => ItemKind::Podcast,
            _ => ItemKind::Playable,
        }
    }

    /// Whether items of this kind have children to read.
    pub fn is_parent(self) -> bool {
        self != ItemKind::Playable
    }
}

/// Whether Audible's library item is one part of a book sold in parts (`AudioPart`), which
/// Audible licenses only through its book.
pub fn is_audio_part(item: &Value) -> bool {
    field(item, "content_delivery_type") == Some("AudioPart")
}

/// The children a parent's item names in its `relationships` (`relationship_to_product`
/// `child`), ordered by their `sort`; empty when the item names none (the `relationships`
/// response group missing, or an item that lists no children there).
pub fn listed_children(item: &Value) -> Vec<Asin> {
    let mut children: Vec<(u32, Asin)> = relationships(item)
        .filter(|r| field(r, "relationship_to_product") == Some("child"))
        .filter_map(|r| {
            Some((
                sort_of(r).unwrap_or(u32::MAX),
                Asin::parse(field(r, "asin")?).ok()?,
            ))
        })
        .collect();
    children.sort_by_key(|(sort, _)| *sort);
    children.into_iter().map(|(_, asin)| asin).collect()
}

/// The place a child's item gives itself under `parent` (the `sort` of its
/// `relationship_to_product` `parent` relationship naming it), if it says.
pub fn position_under(item: &Value, parent: &Asin) -> Option<u32> {
    relationships(item)
        .filter(|r| field(r, "relationship_to_product") == Some("parent"))
        .filter(|r| field(r, "asin") == Some(parent.as_str()))
        .find_map(sort_of)
}

fn relationships(item: &Value) -> impl Iterator<Item = &Value> {
    item.get("relationships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A relationship's `sort` (Audible sends a string of digits, sometimes a number).
fn sort_of(relationship: &Value) -> Option<u32> {
    match relationship.get("sort")? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_items_with_children_are_parents() {
        let kind = |item: Value| ItemKind::of_item(&item);
        assert_eq!(
            kind(json!({"content_delivery_type": "PodcastParent", "has_children": true})),
            ItemKind::Podcast
        );
        assert_eq!(
            kind(json!({"content_delivery_type": "Periodical", "has_children": true})),
            ItemKind::Podcast
        );
        assert_eq!(
            kind(
                json!({"content_type": "Podcast", "content_delivery_type": "X", "has_children": true})
            ),
            ItemKind::Podcast
        );
        assert_eq!(
            kind(json!({"content_delivery_type": "MultiPartBook", "has_children": true})),
            ItemKind::MultiPartBook
        );
        assert_eq!(
            kind(json!({"content_delivery_type": "PodcastParent", "has_children": false})),
            ItemKind::Playable
        );
        assert_eq!(
            kind(json!({"content_delivery_type": "PodcastEpisode", "content_type": "Podcast"})),
            ItemKind::Playable
        );
        assert_eq!(
            kind(json!({"content_delivery_type": "SinglePartBook", "has_children": true})),
            ItemKind::Playable
        );
    }

    #[test]
    fn children_are_read_from_relationships_in_sort_order() {
        let item = json!({"relationships": [
            {"asin": "B000000002", "relationship_to_product": "child", "relationship_type": "component", "sort": "2"},
            {"asin": "B00SERIES1", "relationship_to_product": "parent", "relationship_type": "series", "sort": "1"},
            {"asin": "B000000001", "relationship_to_product": "child", "relationship_type": "component", "sort": 1},
        ]});
        let listed: Vec<String> = listed_children(&item)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(listed, ["B000000001", "B000000002"]);
        assert!(listed_children(&json!({})).is_empty());
    }

    #[test]
    fn a_child_names_its_place_under_its_parent() {
        let parent = Asin::parse("B0PARENT01").unwrap();
        let item = json!({"relationships": [
            {"asin": "B00SERIES1", "relationship_to_product": "parent", "relationship_type": "series", "sort": "9"},
            {"asin": "B0PARENT01", "relationship_to_product": "parent", "relationship_type": "episode", "sort": "12"},
        ]});
        assert_eq!(position_under(&item, &parent), Some(12));
        assert_eq!(position_under(&json!({}), &parent), None);
    }
}
