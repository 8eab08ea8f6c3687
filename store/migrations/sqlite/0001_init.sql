-- The journal: every signed event we kept, raw bytes included.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    error       TEXT,
    created_at  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX events_received ON events (received_at, id);
-- The since filter walks events_received: events arrive close to their
-- createdAt, and one index fewer on the hottest table speeds every insert.
CREATE INDEX events_type ON events (type, received_at, id);
CREATE INDEX events_status ON events (status, received_at, id);

-- One row per transaction that changed the mirror; writers serialise on it,
-- so change-feed positions are handed out in commit order.
CREATE TABLE feed_clock (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO feed_clock (id, seq) VALUES (1, 0);

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    phone      TEXT,
    phone_norm TEXT,
    name       TEXT,
    email      TEXT,
    email_norm TEXT,
    search     TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '[]',
    fields     TEXT NOT NULL DEFAULT '{}',
    extra      TEXT NOT NULL DEFAULT '{}',
    versions   TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    synced_at  TEXT NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE INDEX contacts_updated ON contacts (updated_at, id);
CREATE INDEX contacts_seq ON contacts (seq, id);
CREATE INDEX contacts_phone_norm ON contacts (phone_norm);
CREATE INDEX contacts_email ON contacts (email_norm);

CREATE TABLE contact_tags (
    contact_id TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag, contact_id);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    contact_id      TEXT,
    channel         TEXT,
    status          TEXT NOT NULL,
    opened_at       TEXT,
    resolved_at     TEXT,
    last_message_at TEXT,
    message_count   INTEGER NOT NULL DEFAULT 0,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    synced_at       TEXT NOT NULL,
    seq             INTEGER NOT NULL
);
CREATE INDEX conversations_updated ON conversations (updated_at, id);
CREATE INDEX conversations_seq ON conversations (seq, id);
-- Filters by status and channel walk conversations_updated: both are
-- low-cardinality, and an index holding updated_at would be rewritten on
-- every message.
CREATE INDEX conversations_contact ON conversations (contact_id);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    contact_id      TEXT,
    channel         TEXT,
    direction       TEXT NOT NULL,
    status          TEXT NOT NULL,
    body            TEXT,
    from_addr       TEXT,
    to_addr         TEXT,
    error           TEXT,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    synced_at       TEXT NOT NULL,
    seq             INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, id);
CREATE INDEX messages_updated ON messages (updated_at, id);
CREATE INDEX messages_seq ON messages (seq, id);
CREATE INDEX messages_contact ON messages (contact_id);
CREATE INDEX messages_created ON messages (created_at, id);

CREATE TABLE workflow_runs (
    id              TEXT PRIMARY KEY,
    workflow_id     TEXT NOT NULL,
    contact_id      TEXT,
    conversation_id TEXT,
    source          TEXT,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    triggered_at    TEXT NOT NULL,
    synced_at       TEXT NOT NULL,
    seq             INTEGER NOT NULL
);
CREATE INDEX workflow_runs_triggered ON workflow_runs (triggered_at, id);
CREATE INDEX workflow_runs_seq ON workflow_runs (seq, id);
CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, triggered_at, id);
CREATE INDEX workflow_runs_contact ON workflow_runs (contact_id, triggered_at, id);
