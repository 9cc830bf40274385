-- newsmesh spool, schema version 3: NEWNEWS asks for articles by arrival time.
CREATE INDEX articles_arrived ON articles(arrived);
