-- newsmesh spool, schema version 6: how each neighbour is doing, for `newsmesh status`.
--
-- peer_syncs: one row per peer our `sync` has dialled, written after each exchange (one
-- statement): the last result, the last success, and running totals.
CREATE TABLE peer_syncs (
    peer           TEXT PRIMARY KEY,
    last_at        INTEGER NOT NULL,            -- Unix seconds the last sync ended
    last_ok        INTEGER NOT NULL,            -- 1 when it succeeded
    last_error     TEXT    NOT NULL DEFAULT '', -- why it failed ('' when it succeeded)
    last_sent      INTEGER NOT NULL DEFAULT 0,  -- articles whose bodies we sent and it stored
    last_received  INTEGER NOT NULL DEFAULT 0,  -- articles whose bodies we received and stored
    last_refused   INTEGER NOT NULL DEFAULT 0,  -- articles either side turned down
    last_bytes     INTEGER NOT NULL DEFAULT 0,  -- bytes on the wire, both directions
    last_ms        INTEGER NOT NULL DEFAULT 0,  -- how long it took
    last_ok_at     INTEGER,                     -- Unix seconds of the last success (NULL: never)
    syncs          INTEGER NOT NULL DEFAULT 0,  -- totals since the first sync with it
    failures       INTEGER NOT NULL DEFAULT 0,
    sent           INTEGER NOT NULL DEFAULT 0,
    received       INTEGER NOT NULL DEFAULT 0,
    refused        INTEGER NOT NULL DEFAULT 0,
    bytes          INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- peer_inbound: one row per neighbour whose own connections reach our `serve` (its syncs,
-- an INN feed), written when such a session ends: the only news of a passive peer.
CREATE TABLE peer_inbound (
    peer      TEXT PRIMARY KEY,
    last_at   INTEGER NOT NULL,            -- Unix seconds its last session ended
    sessions  INTEGER NOT NULL DEFAULT 0,  -- totals since its first session
    received  INTEGER NOT NULL DEFAULT 0,  -- articles it fed us that we stored
    refused   INTEGER NOT NULL DEFAULT 0   -- articles it fed us that we refused
) WITHOUT ROWID;
