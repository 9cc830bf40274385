-- newsmesh spool, schema version 2: full resyncs after a neighbour's spool is rebuilt.
--
-- pull_full: our next pull from this peer lists everything after pull_seq, including
--   articles whose Path already names us (we may have lost them: first contact, or our
--   own spool was rebuilt). Cleared once a full listing completes.
-- resync_through: the peer's spool was rebuilt; our arrivals up to this sequence are
--   offered to it even when their Path names it.
ALTER TABLE peer_marks ADD COLUMN pull_full INTEGER NOT NULL DEFAULT 1;
ALTER TABLE peer_marks ADD COLUMN resync_through INTEGER NOT NULL DEFAULT 0;
