-- newsmesh spool, schema version 7: each arrival records which neighbour delivered it.
--
-- delivered_by: the name of the [[peer]] or [[nntp_peer]] that handed us the article (its
--   feed into `serve`, or our pull from it); NULL when it was made here (post, a reader's
--   POST), imported from an rnews batch, or arrived before this version.
--
-- "Do not offer it back" is decided on this local fact, not on Path: Path is not signed,
-- so a relay that wrote a neighbour's name into it could otherwise keep the article from
-- ever being offered or listed to that neighbour (see src/feed_policy.rs).
ALTER TABLE articles ADD COLUMN delivered_by TEXT;
