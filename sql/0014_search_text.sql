-- 0014: documents are text, not HTML. PostgreSQL's default text search parser recognises tags and
-- entities and leaves them out of the vector, so words inside "<script>" or "&amp;" were never
-- found. The vector is now made of the text with <, > and & read as spaces (the snippets already
-- show them escaped, product_sql.c).

DROP INDEX document_chunks_tsv;
ALTER TABLE document_chunks DROP COLUMN tsv;
ALTER TABLE document_chunks ADD COLUMN tsv tsvector NOT NULL
    GENERATED ALWAYS AS (to_tsvector('english', translate(content, '<>&', '   '))) STORED;
CREATE INDEX document_chunks_tsv ON document_chunks USING gin (tsv);
