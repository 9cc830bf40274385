-- newsmesh spool, schema version 10: the index set reconciliation reads (src/reconcile/).
--
-- One row per stored article with a newsmesh Message-ID, in the order reconciliation
-- walks: ts (the article's Date in Unix seconds, or its arrival here when it has none)
-- then id (the 32-byte content digest the Message-ID spells in base32). A fingerprint of
-- any range is one scan of this table's primary key, never a read of the articles or a
-- hash of their Message-IDs. seq finds the article again (and the row, on delete).
--
-- Rows are written by the store (src/spool/store.rs, in the article's transaction) and,
-- for articles stored before this version, by the migration's Rust step
-- (src/spool/reconcile.rs: backfill), since SQLite cannot decode base32. The trigger
-- keeps the index in step when an article leaves (expire, cancel, supersede).
CREATE TABLE reconcile_items (
    ts  INTEGER NOT NULL,
    id  BLOB    NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (ts, id)
) WITHOUT ROWID;

CREATE TRIGGER reconcile_items_gone AFTER DELETE ON articles BEGIN
    DELETE FROM reconcile_items
     WHERE ts = (CASE WHEN OLD.posted > 0 THEN OLD.posted ELSE MAX(OLD.arrived, 0) END)
       AND seq = OLD.seq;
END;
