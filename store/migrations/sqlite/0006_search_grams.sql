-- The q filter on SQLite reads a trigram index of the search text of
-- contacts and messages (store/grams.go), kept by triggers. The existing
-- rows are indexed here: on 1M messages this takes tens of seconds, once.

CREATE VIRTUAL TABLE contacts_grams USING fts4(grams, matchinfo=fts3);
CREATE TRIGGER contacts_grams_insert AFTER INSERT ON contacts WHEN new.search IS NOT NULL AND new.search <> '' BEGIN
    INSERT INTO contacts_grams (docid, grams) VALUES (new.rowid, buzz_grams(new.search));
END;
CREATE TRIGGER contacts_grams_update AFTER UPDATE OF search ON contacts WHEN old.search IS NOT new.search BEGIN
    DELETE FROM contacts_grams WHERE docid = old.rowid;
    INSERT INTO contacts_grams (docid, grams) SELECT new.rowid, buzz_grams(new.search) WHERE new.search IS NOT NULL AND new.search <> '';
END;
CREATE TRIGGER contacts_grams_delete AFTER DELETE ON contacts BEGIN
    DELETE FROM contacts_grams WHERE docid = old.rowid;
END;
INSERT INTO contacts_grams (docid, grams) SELECT rowid, buzz_grams(search) FROM contacts WHERE search <> '';

CREATE VIRTUAL TABLE messages_grams USING fts4(grams, matchinfo=fts3);
CREATE TRIGGER messages_grams_insert AFTER INSERT ON messages WHEN new.search IS NOT NULL AND new.search <> '' BEGIN
    INSERT INTO messages_grams (docid, grams) VALUES (new.rowid, buzz_grams(new.search));
END;
CREATE TRIGGER messages_grams_update AFTER UPDATE OF search ON messages WHEN old.search IS NOT new.search BEGIN
    DELETE FROM messages_grams WHERE docid = old.rowid;
    INSERT INTO messages_grams (docid, grams) SELECT new.rowid, buzz_grams(new.search) WHERE new.search IS NOT NULL AND new.search <> '';
END;
CREATE TRIGGER messages_grams_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_grams WHERE docid = old.rowid;
END;
INSERT INTO messages_grams (docid, grams) SELECT rowid, buzz_grams(search) FROM messages WHERE search IS NOT NULL AND search <> '';
