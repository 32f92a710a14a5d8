-- The person's settings (the web client's Settings), one JSON document for the installation.
CREATE TABLE settings (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL
);
