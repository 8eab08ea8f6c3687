-- Erasure: what `buzzmirror erase` removed, and when. An event dated at or
-- before erased_at that names one of these rows is journaled as erased,
-- whatever order it arrives in.
CREATE TABLE erasures (
    kind      TEXT NOT NULL,
    id        TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    PRIMARY KEY (id, kind)
);

-- Retention of message bodies sweeps the journal by createdAt.
CREATE INDEX events_created ON events (created_at, id);
INSERT INTO counters (name) VALUES ('retention.swept');
