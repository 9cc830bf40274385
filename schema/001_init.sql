-- newsmesh spool, schema version 1.
-- Applied by src/spool/migrate.rs inside one transaction; PRAGMA user_version records the version.

-- Facts about this spool: its epoch (a random id made when the spool is created, so that a
-- neighbour notices a rebuilt spool and restarts its marks) and the creation time.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every stored article. `seq` is the local arrival sequence: strictly increasing, never reused
-- (AUTOINCREMENT), so "everything after sequence N" is an index range scan and a sync costs
-- work proportional to what is new, not to the spool size.
CREATE TABLE articles (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    msgid      TEXT    NOT NULL UNIQUE,
    path       TEXT    NOT NULL,            -- Path header as stored here (relay identities)
    newsgroups TEXT    NOT NULL,            -- Newsgroups header, unfolded
    subject    TEXT    NOT NULL,
    author     TEXT    NOT NULL,            -- From header, unfolded
    date       TEXT    NOT NULL,            -- Date header as written by the poster
    posted     INTEGER NOT NULL,            -- Date parsed to Unix seconds (0 when unparseable)
    refs       TEXT    NOT NULL DEFAULT '', -- References header, unfolded
    bytes      INTEGER NOT NULL,
    lines      INTEGER NOT NULL,
    signer     TEXT,                        -- author public key (base64) when signed
    arrived    INTEGER NOT NULL,            -- Unix seconds of arrival here
    raw        BLOB    NOT NULL             -- the article in wire form (CRLF, not dot-stuffed)
);

-- Newsgroups carried by this node, with the numbers NNTP readers see.
CREATE TABLE groups (
    name        TEXT PRIMARY KEY,
    low         INTEGER NOT NULL DEFAULT 1,
    high        INTEGER NOT NULL DEFAULT 0,
    count       INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Per-group article numbers: the overview index (group, number) -> article.
CREATE TABLE group_articles (
    grp  TEXT    NOT NULL,
    num  INTEGER NOT NULL,
    seq  INTEGER NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
    PRIMARY KEY (grp, num)
) WITHOUT ROWID;
CREATE INDEX group_articles_seq ON group_articles(seq);

-- History: every Message-ID ever seen, stored or refused, kept longer than the articles so
-- that an expired or refused article is not taken back. status: 'stored', 'refused',
-- 'expired', 'cancelled'.
CREATE TABLE history (
    msgid   TEXT PRIMARY KEY,
    status  TEXT    NOT NULL,
    seen    INTEGER NOT NULL,
    reason  TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;

-- Per-peer sync marks. pull_*: the neighbour's epoch and the last arrival sequence of theirs
-- whose articles we hold. push_seq: our own arrival sequence up to which we offered them.
CREATE TABLE peer_marks (
    peer       TEXT PRIMARY KEY,
    pull_epoch TEXT    NOT NULL DEFAULT '',
    pull_seq   INTEGER NOT NULL DEFAULT 0,
    push_seq   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
