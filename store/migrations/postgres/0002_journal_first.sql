-- Journal first: a delivery is answered once its event is journaled, and a
-- projector applies journaled events to the mirror afterwards. A new
-- applicable event is journaled as 'pending' until the projector marks it
-- 'applied' or 'failed'; the projector finds pending events through
-- events_status.

-- The projector's lease lives on the feed_clock row, which every
-- transaction that writes the mirror locks first: a projector checks its
-- epoch there, in the same transaction, so one that lost its lease can
-- never write. lease_until is in Unix milliseconds, by the database's
-- clock. generation names the indexes of the tables a rebuild fills (they
-- must differ from the live tables' names until the rebuild swaps them in).
ALTER TABLE feed_clock ADD COLUMN lease_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE feed_clock ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE feed_clock ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE feed_clock ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

-- Exact counts kept by every writer in the transaction that changes them,
-- so that /v1/stats and /metrics never count a table. "at" holds the
-- newest time of a mark (events.lastCreatedAt, events.lastReceivedAt).
CREATE TABLE counters (
    name TEXT COLLATE "C" PRIMARY KEY,
    n    BIGINT NOT NULL DEFAULT 0,
    at   TEXT COLLATE "C"
);
INSERT INTO counters (name) VALUES
    ('events.pending'), ('events.applied'), ('events.ignored'), ('events.failed'), ('events.erased'),
    ('events.lastCreatedAt'), ('events.lastReceivedAt'),
    ('contacts'), ('conversations.open'), ('conversations.resolved'),
    ('messages.received'), ('messages.sent'), ('messages.failed'), ('workflowRuns');
UPDATE counters SET n = (SELECT COUNT(*) FROM events WHERE status = substr(counters.name, 8))
    WHERE name IN ('events.applied', 'events.ignored', 'events.failed');
UPDATE counters SET at = (SELECT MAX(created_at) FROM events) WHERE name = 'events.lastCreatedAt';
UPDATE counters SET at = (SELECT MAX(received_at) FROM events) WHERE name = 'events.lastReceivedAt';
UPDATE counters SET n = (SELECT COUNT(*) FROM contacts) WHERE name = 'contacts';
UPDATE counters SET n = (SELECT COUNT(*) FROM workflow_runs) WHERE name = 'workflowRuns';
UPDATE counters SET n = (SELECT COUNT(*) FROM conversations WHERE status = substr(counters.name, 15))
    WHERE name LIKE 'conversations.%';
UPDATE counters SET n = (SELECT COUNT(*) FROM messages WHERE status = substr(counters.name, 10))
    WHERE name LIKE 'messages.%';

-- Rows that left the mirror (a rebuild that no longer makes them, an
-- erasure), for the change feed's deletes. A row made again later has a
-- greater seq than its deletion, and the feed shows it instead.
CREATE TABLE deletions (
    kind TEXT COLLATE "C" NOT NULL,
    id   TEXT COLLATE "C" NOT NULL,
    seq  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX deletions_seq ON deletions (seq, kind, id);

-- contact_tags loses its foreign key: a rebuild swaps whole tables, and
-- the writers keep the tags of a contact with it.
ALTER TABLE contact_tags DROP CONSTRAINT contact_tags_contact_id_fkey;
