-- newsmesh spool, schema version 8: the mesh's governance control articles.
--
-- governance: one row per signed governance control article this node accepted (member,
--   policy, moderator, revoke; see src/governance/). The membership and revocation state
--   is derived from the SET of these rows every time it is needed, never kept as a
--   running result, so the order they arrived in cannot change it. Rows outlive the
--   articles themselves (expire removes articles, not governance).
--   msgid: the control article's Message-ID; date: its Date in Unix seconds (with msgid,
--   the order the convergence rule uses); signer: its author key (base64); control: its
--   Control header value; seen: arrival time here.
CREATE TABLE governance (
    msgid   TEXT PRIMARY KEY,
    date    INTEGER NOT NULL,
    signer  TEXT NOT NULL,
    control TEXT NOT NULL,
    seen    INTEGER NOT NULL
);

-- invites: the invite codes this node made (`newsmesh invite`), for `join` to redeem
--   over `MESH JOIN`. The secret is stored only as its SHA-256 (hex): a copy of the spool
--   does not give away a working code.
--   secret_hash: SHA-256 of the code's secret; groups: the wildmat the newcomer's
--   [[peer]] entry gets; uses_left: redemptions still allowed (1 by default); expires:
--   Unix seconds after which it is refused; created: when it was made.
CREATE TABLE invites (
    secret_hash TEXT PRIMARY KEY,
    groups      TEXT NOT NULL,
    uses_left   INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    created     INTEGER NOT NULL
);
