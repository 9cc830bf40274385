-- newsmesh spool, schema version 4: the history row of a stored article says where it is
-- (its arrival sequence), and `articles` loses its own index on Message-ID. Message-IDs
-- are random (content hashes), so every such index takes each insert to a random page;
-- one of them (history's primary key) is enough. Lookups by Message-ID go through history.
-- Runs with foreign keys off (see migrate.rs): dropping `articles` must not cascade.
ALTER TABLE history ADD COLUMN seq INTEGER;
UPDATE history SET seq = (SELECT a.seq FROM articles a WHERE a.msgid = history.msgid)
 WHERE status = 'stored';

CREATE TABLE articles_v4 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    msgid      TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    newsgroups TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    date       TEXT    NOT NULL,
    posted     INTEGER NOT NULL,
    refs       TEXT    NOT NULL DEFAULT '',
    bytes      INTEGER NOT NULL,
    lines      INTEGER NOT NULL,
    signer     TEXT,
    arrived    INTEGER NOT NULL,
    raw        BLOB    NOT NULL
);
INSERT INTO articles_v4 SELECT seq, msgid, path, newsgroups, subject, author, date, posted,
                               refs, bytes, lines, signer, arrived, raw FROM articles;
-- Keep the arrival sequence strictly increasing even past deleted (expired) articles.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'articles_v4', seq FROM sqlite_sequence WHERE name = 'articles'
    AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'articles_v4');
UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'articles'))
 WHERE name = 'articles_v4';
DROP TABLE articles;
ALTER TABLE articles_v4 RENAME TO articles;
CREATE INDEX articles_arrived ON articles(arrived);
