-- Whether an item is a book or a podcast (the web client's Podcasts tab filters on it),
-- derived from the item Audible sent, as earmark_core::ContentType::of_item does.
ALTER TABLE books ADD COLUMN content_type TEXT NOT NULL DEFAULT 'audiobook';
UPDATE books SET content_type = 'podcast'
 WHERE json_extract(metadata_json, '$.content_type') = 'Podcast'
    OR json_extract(metadata_json, '$.content_delivery_type')
       IN ('PodcastParent', 'Periodical', 'PodcastEpisode');
CREATE INDEX books_content_type ON books (content_type);
