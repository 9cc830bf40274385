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
