-- VIES checks of buyers' VAT numbers (issue #14). Number 6: migration 5 is taken by
-- another change; the runner applies whatever numbers are above `user_version`.

-- Recent answers, reused for the same number for invoices.vies_reuse_days (default 30).
-- PERSONAL DATA: `vat_id` is a buyer's VAT number (normalised, country prefix included).
-- A row goes when it is older than the reuse window (make-invoices prunes), and as soon as
-- no order that still holds personal data refers to it: `vies_cache_orders` links each
-- order to the number it was checked with, purge and forget-order delete the order's
-- links, and then every row without a link.
CREATE TABLE vies_cache (
    vat_id             TEXT PRIMARY KEY,
    valid              INTEGER NOT NULL CHECK (valid IN (0, 1)),
    request_date       TEXT NOT NULL,
    request_identifier TEXT,
    requester          TEXT NOT NULL,
    checked_at         TEXT NOT NULL
);

-- PERSONAL DATA, like `order_pii`: which order's number a cache row is.
CREATE TABLE vies_cache_orders (
    vat_id   TEXT NOT NULL REFERENCES vies_cache(vat_id) ON DELETE CASCADE,
    order_id TEXT NOT NULL,
    PRIMARY KEY (vat_id, order_id)
);
CREATE INDEX vies_cache_orders_order ON vies_cache_orders(order_id);

-- Orders whose check could not be made (VIES or the member state's register unavailable,
-- or VIES busy after the retries): when it first failed, so that the order goes to review
-- (reason `vies_unavailable`) 24 hours later. No personal data: the error is a code.
CREATE TABLE vies_waiting (
    order_id        TEXT PRIMARY KEY,
    first_failed_at TEXT NOT NULL,
    last_failed_at  TEXT NOT NULL,
    last_error      TEXT NOT NULL
);

-- Part of the anonymised tax ledger, kept after purge like `tax_ledger`: the VIES check
-- behind an invoice whose regime depended on it. The number checked is NOT here (it is
-- the buyer's personal data; an intra-Community supply keeps it in tax_ledger.buyer_vat_id
-- for the EC Sales List, as before): the country, the verdict, VIES's date, the requester
-- (the seller's own VAT number) and the consultation number that proves the check.
CREATE TABLE tax_ledger_vies (
    number             TEXT PRIMARY KEY REFERENCES tax_ledger(number),
    country_code       TEXT NOT NULL,
    valid              INTEGER NOT NULL CHECK (valid IN (0, 1)),
    request_date       TEXT NOT NULL,
    request_identifier TEXT,
    requester          TEXT NOT NULL,
    checked_at         TEXT NOT NULL,
    reused             INTEGER NOT NULL CHECK (reused IN (0, 1))
);
