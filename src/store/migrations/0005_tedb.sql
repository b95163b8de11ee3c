-- The last complete `fulfil rates update` (issue #14): the rates the European Commission's
-- TEDB gave for every member state, as dated rows, and the period they were asked for.
-- One update at a time: a new complete update replaces the old one in one transaction, a
-- failed one changes nothing. No personal data.
CREATE TABLE tedb_update (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    retrieved_at  TEXT NOT NULL,  -- RFC 3339, the run's clock
    covered_from  TEXT NOT NULL,  -- first day asked (YYYY-MM-DD)
    covered_until TEXT NOT NULL,  -- last day asked: the rows are trusted up to it
    samples       INTEGER NOT NULL,
    endpoint      TEXT NOT NULL
);

CREATE TABLE tedb_rates (
    country    TEXT NOT NULL,     -- member state, GR for Greece
    category   TEXT NOT NULL,     -- standard, reduced, books, super_reduced
    rate       TEXT NOT NULL,     -- percentage as a decimal string
    valid_from TEXT NOT NULL,
    valid_to   TEXT,              -- inclusive; NULL = up to covered_until
    PRIMARY KEY (country, category, valid_from)
);
