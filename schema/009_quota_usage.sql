-- newsmesh spool, schema version 9 (number reserved for issue 22): what each author key
-- and each delivering neighbour put into this spool per UTC day, for the quotas of
-- `[[admission.quota]]` (src/admission/quota.rs) and `status`'s top authors.
--
-- kind: 'author' (who = author public key, base64) or 'peer' (who = the [[peer]] or
--   [[nntp_peer]] name that delivered it). day: Unix day (arrival seconds / 86400).
-- Read at most once per (kind, who, day) and written with one upsert per row per ingest
-- transaction (src/spool/quota_usage.rs, Ledger): O(1) per article, whatever the spool
-- size. Rows of past days are pruned by `newsmesh expire`.
CREATE TABLE quota_usage (
    kind     TEXT    NOT NULL,
    who      TEXT    NOT NULL,
    day      INTEGER NOT NULL,
    articles INTEGER NOT NULL DEFAULT 0,
    bytes    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, who, day)
) WITHOUT ROWID;
