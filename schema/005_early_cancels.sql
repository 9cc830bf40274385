-- newsmesh spool, schema version 5: cancels that arrive before their target are kept per
-- (target, author key). Until now history held one advance mark per target and the first
-- key won, so a stranger's early cancel could make the author's own cancel be ignored.
-- Now every early cancel is kept with its key, and an arriving article is withdrawn when
-- its own author's key is among them, whatever came first. Rows age out with history
-- (`newsmesh expire`, [expire] history_days).
CREATE TABLE early_cancels (
    msgid  TEXT    NOT NULL,   -- the target's Message-ID (not here yet)
    signer TEXT    NOT NULL,   -- author key (base64) that signed the cancel
    seen   INTEGER NOT NULL,   -- Unix seconds the cancel arrived
    PRIMARY KEY (msgid, signer)
) WITHOUT ROWID;

-- The advance marks of version 4 (history rows 'cancelled', no article) become early
-- cancels too. Withdrawn articles look the same in history (they are not told apart);
-- copying them is harmless: their author's key is the one that withdrew them.
INSERT OR IGNORE INTO early_cancels (msgid, signer, seen)
    SELECT msgid, reason, seen FROM history
     WHERE status = 'cancelled' AND seq IS NULL AND reason <> '';
