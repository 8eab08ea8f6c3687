-- What tool builders asked for: conversations waiting for a reply, failed
-- messages by error code, message bodies searched, a contact's messages.

-- A message keeps the greatest createdAt of its message.received and of its
-- message.sent events, so that a conversation's lastInboundAt and
-- lastOutboundAt are sums of its messages like lastMessageAt; error_code
-- and search are derived from error and body for their filters.
ALTER TABLE messages ADD COLUMN inbound_at TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN outbound_at TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN error_code TEXT COLLATE "C";
ALTER TABLE messages ADD COLUMN search TEXT;
ALTER TABLE conversations ADD COLUMN last_inbound_at TEXT COLLATE "C";
ALTER TABLE conversations ADD COLUMN last_outbound_at TEXT COLLATE "C";
ALTER TABLE conversations ADD COLUMN awaiting_reply BOOLEAN NOT NULL DEFAULT false;

-- What the stored rows tell; `buzzmirror rebuild` computes the exact
-- values from the journal (a message's event times are not stored).
UPDATE messages SET error = NULL WHERE status <> 'failed';
UPDATE messages SET inbound_at = created_at WHERE direction = 'inbound';
UPDATE messages SET outbound_at = updated_at WHERE status = 'sent';
UPDATE messages SET error_code = error::jsonb ->> 'code' WHERE error IS NOT NULL;
UPDATE messages SET search = lower(body) WHERE body IS NOT NULL;
UPDATE conversations c SET
    last_inbound_at = (SELECT MAX(inbound_at) FROM messages m WHERE m.conversation_id = c.id),
    last_outbound_at = (SELECT MAX(outbound_at) FROM messages m WHERE m.conversation_id = c.id);
UPDATE conversations SET awaiting_reply = true
    WHERE status = 'open' AND last_inbound_at IS NOT NULL
      AND (last_outbound_at IS NULL OR last_outbound_at < last_inbound_at);

CREATE INDEX conversations_awaiting ON conversations (awaiting_reply, updated_at, id);
CREATE INDEX messages_error_code ON messages (error_code, updated_at, id);
DROP INDEX messages_contact;
CREATE INDEX messages_contact ON messages (contact_id, updated_at, id);
-- The q filter, a case-insensitive substring of the body, by trigrams.
-- pg_trgm is a trusted extension (a user who may create in the database
-- may add it); without it the filter scans, as contacts' q does.
DO $$
DECLARE ext text;
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): the q filter on messages scans', SQLERRM;
    END;
    SELECT n.nspname INTO ext FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ext IS NOT NULL THEN
        EXECUTE format('CREATE INDEX messages_search ON messages USING gin (search %I.gin_trgm_ops)', ext);
    END IF;
END $$;
