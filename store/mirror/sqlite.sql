-- The mirror's tables as the migrations leave them, for the tables a
-- rebuild fills beside the live ones and then swaps in. {{T "x"}} names a
-- table, {{I "x"}} an index (index names are global, so the rebuild's
-- carry a generation). TestShadowMatchesLive holds this file to the
-- migrations.
CREATE TABLE {{T "contacts"}} (
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
-- The search text rides in the list's index: q tests it there and reads a
-- row only when it matches.
CREATE INDEX {{I "contacts_updated"}} ON {{T "contacts"}} (updated_at, id, search);
CREATE INDEX {{I "contacts_seq"}} ON {{T "contacts"}} (seq, id);
CREATE INDEX {{I "contacts_phone_norm"}} ON {{T "contacts"}} (phone_norm);
CREATE INDEX {{I "contacts_email"}} ON {{T "contacts"}} (email_norm);
-- The trigram index of contacts' search text, for q (store/grams.go): the
-- triggers hand it each row's trigrams, under the row's rowid. It merges
-- its segments a little after each write (automerge): left to itself,
-- FTS4 merges sixteen of them at once inside the write that makes the
-- sixteenth (on 200,000 contacts 0.3-0.4 s; 0.1-0.2 s so).
CREATE VIRTUAL TABLE {{T "contacts_grams"}} USING fts4(grams, matchinfo=fts3);
INSERT INTO {{T "contacts_grams"}} ({{T "contacts_grams"}}) VALUES ('automerge=8');
CREATE TRIGGER {{I "contacts_grams_insert"}} AFTER INSERT ON {{T "contacts"}} WHEN new.search <> '' BEGIN
    INSERT INTO {{T "contacts_grams"}} (docid, grams) VALUES (new.rowid, buzz_grams(new.search));
END;
CREATE TRIGGER {{I "contacts_grams_update"}} AFTER UPDATE OF search ON {{T "contacts"}} WHEN old.search <> new.search BEGIN
    DELETE FROM {{T "contacts_grams"}} WHERE docid = old.rowid;
    INSERT INTO {{T "contacts_grams"}} (docid, grams) SELECT new.rowid, buzz_grams(new.search) WHERE new.search <> '';
END;
CREATE TRIGGER {{I "contacts_grams_delete"}} AFTER DELETE ON {{T "contacts"}} BEGIN
    DELETE FROM {{T "contacts_grams"}} WHERE docid = old.rowid;
END;

CREATE TABLE {{T "contact_tags"}} (
    contact_id TEXT NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX {{I "contact_tags_tag"}} ON {{T "contact_tags"}} (tag, contact_id);

CREATE TABLE {{T "conversations"}} (
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
    seq             INTEGER NOT NULL,
    last_inbound_at  TEXT,
    last_outbound_at TEXT,
    awaiting_reply   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX {{I "conversations_updated"}} ON {{T "conversations"}} (updated_at, id);
CREATE INDEX {{I "conversations_seq"}} ON {{T "conversations"}} (seq, id);
CREATE INDEX {{I "conversations_contact"}} ON {{T "conversations"}} (contact_id);
CREATE INDEX {{I "conversations_awaiting"}} ON {{T "conversations"}} (awaiting_reply, updated_at, id);

CREATE TABLE {{T "messages"}} (
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
    seq             INTEGER NOT NULL,
    inbound_at      TEXT,
    outbound_at     TEXT,
    error_code      TEXT,
    search          TEXT
);
CREATE INDEX {{I "messages_conversation"}} ON {{T "messages"}} (conversation_id, created_at, id);
CREATE INDEX {{I "messages_updated"}} ON {{T "messages"}} (updated_at, id, search);
CREATE INDEX {{I "messages_seq"}} ON {{T "messages"}} (seq, id);
CREATE INDEX {{I "messages_contact"}} ON {{T "messages"}} (contact_id, updated_at, id);
CREATE INDEX {{I "messages_error_code"}} ON {{T "messages"}} (error_code, updated_at, id);
CREATE INDEX {{I "messages_created"}} ON {{T "messages"}} (created_at, id);

CREATE TABLE {{T "workflow_runs"}} (
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
CREATE INDEX {{I "workflow_runs_triggered"}} ON {{T "workflow_runs"}} (triggered_at, id);
CREATE INDEX {{I "workflow_runs_seq"}} ON {{T "workflow_runs"}} (seq, id);
CREATE INDEX {{I "workflow_runs_workflow"}} ON {{T "workflow_runs"}} (workflow_id, triggered_at, id);
CREATE INDEX {{I "workflow_runs_contact"}} ON {{T "workflow_runs"}} (contact_id, triggered_at, id);
