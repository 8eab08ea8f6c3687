-- What tool builders asked for: conversations waiting for a reply, failed
-- messages by error code, message bodies searched, a contact's messages.

-- A message keeps the greatest createdAt of its message.received and of its
-- message.sent events, so that a conversation's lastInboundAt and
-- lastOutboundAt are sums of its messages like lastMessageAt; error_code
-- and search are derived from error and body for their filters.
ALTER TABLE messages ADD COLUMN inbound_at TEXT;
ALTER TABLE messages ADD COLUMN outbound_at TEXT;
ALTER TABLE messages ADD COLUMN error_code TEXT;
ALTER TABLE messages ADD COLUMN search TEXT;
ALTER TABLE conversations ADD COLUMN last_inbound_at TEXT;
ALTER TABLE conversations ADD COLUMN last_outbound_at TEXT;
ALTER TABLE conversations ADD COLUMN awaiting_reply INTEGER NOT NULL DEFAULT 0;

-- What the stored rows tell; `buzzmirror rebuild` computes the exact
-- values from the journal (a message's event times are not stored).
UPDATE messages SET error = NULL WHERE status <> 'failed';
UPDATE messages SET inbound_at = created_at WHERE direction = 'inbound';
UPDATE messages SET outbound_at = updated_at WHERE status = 'sent';
UPDATE messages SET error_code = json_extract(error, '$.code') WHERE error IS NOT NULL;
UPDATE messages SET search = lower(body) WHERE body IS NOT NULL;
UPDATE conversations SET
    last_inbound_at = (SELECT MAX(inbound_at) FROM messages m WHERE m.conversation_id = conversations.id),
    last_outbound_at = (SELECT MAX(outbound_at) FROM messages m WHERE m.conversation_id = conversations.id);
UPDATE conversations SET awaiting_reply = 1
    WHERE status = 'open' AND last_inbound_at IS NOT NULL
      AND (last_outbound_at IS NULL OR last_outbound_at < last_inbound_at);

CREATE INDEX conversations_awaiting ON conversations (awaiting_reply, updated_at, id);
CREATE INDEX messages_error_code ON messages (error_code, updated_at, id);
-- A contact's messages, newest first.
DROP INDEX messages_contact;
CREATE INDEX messages_contact ON messages (contact_id, updated_at, id);
