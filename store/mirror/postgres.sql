-- The mirror's tables as the migrations leave them, for the tables a
-- rebuild fills beside the live ones and then swaps in. {{T "x"}} names a
-- table, {{I "x"}} an index (index names are global, so the rebuild's
-- carry a generation). TestShadowMatchesLive holds this file to the
-- migrations.
CREATE TABLE {{T "contacts"}} (
    id         TEXT COLLATE "C" NOT NULL,
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
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    synced_at  TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    CONSTRAINT {{I "contacts_pkey"}} PRIMARY KEY (id)
);
CREATE INDEX {{I "contacts_updated"}} ON {{T "contacts"}} (updated_at, id);
CREATE INDEX {{I "contacts_seq"}} ON {{T "contacts"}} (seq, id);
CREATE INDEX {{I "contacts_phone_norm"}} ON {{T "contacts"}} (phone_norm);
CREATE INDEX {{I "contacts_email"}} ON {{T "contacts"}} (email_norm);

CREATE TABLE {{T "contact_tags"}} (
    contact_id TEXT COLLATE "C" NOT NULL,
    tag        TEXT COLLATE "C" NOT NULL,
    CONSTRAINT {{I "contact_tags_pkey"}} PRIMARY KEY (contact_id, tag)
);
CREATE INDEX {{I "contact_tags_tag"}} ON {{T "contact_tags"}} (tag, contact_id);

CREATE TABLE {{T "conversations"}} (
    id              TEXT COLLATE "C" NOT NULL,
    contact_id      TEXT COLLATE "C",
    channel         TEXT,
    status          TEXT NOT NULL,
    opened_at       TEXT COLLATE "C",
    resolved_at     TEXT COLLATE "C",
    last_message_at TEXT COLLATE "C",
    message_count   BIGINT NOT NULL DEFAULT 0,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    synced_at       TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    last_inbound_at  TEXT COLLATE "C",
    last_outbound_at TEXT COLLATE "C",
    awaiting_reply   BOOLEAN NOT NULL DEFAULT false,
    CONSTRAINT {{I "conversations_pkey"}} PRIMARY KEY (id)
);
CREATE INDEX {{I "conversations_updated"}} ON {{T "conversations"}} (updated_at, id);
CREATE INDEX {{I "conversations_seq"}} ON {{T "conversations"}} (seq, id);
CREATE INDEX {{I "conversations_contact"}} ON {{T "conversations"}} (contact_id);
CREATE INDEX {{I "conversations_awaiting"}} ON {{T "conversations"}} (awaiting_reply, updated_at, id);

CREATE TABLE {{T "messages"}} (
    id              TEXT COLLATE "C" NOT NULL,
    conversation_id TEXT COLLATE "C" NOT NULL,
    contact_id      TEXT COLLATE "C",
    channel         TEXT,
    direction       TEXT NOT NULL,
    status          TEXT NOT NULL,
    body            TEXT,
    from_addr       TEXT,
    to_addr         TEXT,
    error           TEXT,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    created_at      TEXT COLLATE "C" NOT NULL,
    updated_at      TEXT COLLATE "C" NOT NULL,
    synced_at       TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    inbound_at      TEXT COLLATE "C",
    outbound_at     TEXT COLLATE "C",
    error_code      TEXT COLLATE "C",
    search          TEXT,
    CONSTRAINT {{I "messages_pkey"}} PRIMARY KEY (id)
);
CREATE INDEX {{I "messages_conversation"}} ON {{T "messages"}} (conversation_id, created_at, id);
CREATE INDEX {{I "messages_updated"}} ON {{T "messages"}} (updated_at, id);
CREATE INDEX {{I "messages_seq"}} ON {{T "messages"}} (seq, id);
CREATE INDEX {{I "messages_contact"}} ON {{T "messages"}} (contact_id, updated_at, id);
CREATE INDEX {{I "messages_error_code"}} ON {{T "messages"}} (error_code, updated_at, id);
CREATE INDEX {{I "messages_created"}} ON {{T "messages"}} (created_at, id);

CREATE TABLE {{T "workflow_runs"}} (
    id              TEXT COLLATE "C" NOT NULL,
    workflow_id     TEXT COLLATE "C" NOT NULL,
    contact_id      TEXT COLLATE "C",
    conversation_id TEXT COLLATE "C",
    source          TEXT,
    versions        TEXT NOT NULL DEFAULT '{"v":[],"f":{}}',
    triggered_at    TEXT COLLATE "C" NOT NULL,
    synced_at       TEXT COLLATE "C" NOT NULL,
    seq             BIGINT NOT NULL,
    CONSTRAINT {{I "workflow_runs_pkey"}} PRIMARY KEY (id)
);
CREATE INDEX {{I "workflow_runs_triggered"}} ON {{T "workflow_runs"}} (triggered_at, id);
CREATE INDEX {{I "workflow_runs_seq"}} ON {{T "workflow_runs"}} (seq, id);
CREATE INDEX {{I "workflow_runs_workflow"}} ON {{T "workflow_runs"}} (workflow_id, triggered_at, id);
CREATE INDEX {{I "workflow_runs_contact"}} ON {{T "workflow_runs"}} (contact_id, triggered_at, id);

DO $$
DECLARE ext text;
BEGIN
    SELECT n.nspname INTO ext FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ext IS NOT NULL THEN
        EXECUTE format('CREATE INDEX %I ON %I USING gin (search %I.gin_trgm_ops)', '{{I "messages_search"}}', '{{T "messages"}}', ext);
        EXECUTE format('CREATE INDEX %I ON %I USING gin (search %I.gin_trgm_ops)', '{{I "contacts_search"}}', '{{T "contacts"}}', ext);
    END IF;
END $$;
