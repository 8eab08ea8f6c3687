-- The q filter on contacts and messages: the index that lists them newest
-- first carries the search text too, so a search tests it there and reads
-- a row only when it matches (on 100,000 contacts 160 -> 33 ms, on 1M
-- messages 1.5 s -> 0.3 s). It replaces the (updated_at, id) index, whose
-- name a rebuild may have suffixed: Migrate drops that one first
-- (migrationCode).
CREATE INDEX contacts_updated ON contacts (updated_at, id, search);
CREATE INDEX messages_updated ON messages (updated_at, id, search);
