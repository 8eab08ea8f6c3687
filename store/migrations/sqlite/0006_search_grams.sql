-- The q filter on contacts reads a trigram index of their search text on
-- SQLite (store/grams.go), kept by triggers. The existing contacts are
-- indexed here (100,000 in a few seconds).

CREATE VIRTUAL TABLE contacts_grams USING fts4(grams, matchinfo=fts3);
INSERT INTO contacts_grams (contacts_grams) VALUES ('automerge=8');
CREATE TRIGGER contacts_grams_insert AFTER INSERT ON contacts WHEN new.search <> '' BEGIN
    INSERT INTO contacts_grams (docid, grams) VALUES (new.rowid, buzz_grams(new.search));
END;
CREATE TRIGGER contacts_grams_update AFTER UPDATE OF search ON contacts WHEN old.search <> new.search BEGIN
    DELETE FROM contacts_grams WHERE docid = old.rowid;
    INSERT INTO contacts_grams (docid, grams) SELECT new.rowid, buzz_grams(new.search) WHERE new.search <> '';
END;
CREATE TRIGGER contacts_grams_delete AFTER DELETE ON contacts BEGIN
    DELETE FROM contacts_grams WHERE docid = old.rowid;
END;
INSERT INTO contacts_grams (docid, grams) SELECT rowid, buzz_grams(search) FROM contacts WHERE search <> '';

