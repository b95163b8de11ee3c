-- Issue #19. A label is a PDF or ZPL II for a thermal printer (`format`: 'pdf',
-- 'zpl-203', 'zpl-300'); the `pdf` column holds the label's bytes in that format.
-- An order may ship as several parcels (PostNL multi-collo): parcels and their labels
-- are keyed by (order_id, parcel_no), parcel 1 being the group's main parcel, and each
-- parcel knows the order items it carries (`items`, a JSON list of [order item id,
-- quantity]; NULL for the only parcel of an order, which carries them all). Rows made
-- before this migration become parcel 1 of 1, and their labels PDFs.
-- The rows wait in a copy while the table is made again. Neither a TEMP table nor
-- ALTER TABLE RENAME (which reads the temp schema): once the temp database is open, a
-- later `PRAGMA wal_checkpoint` after a `rekey` answers "database table is locked".
CREATE TABLE parcels_v8 AS SELECT * FROM parcels;
DROP TABLE parcels;
CREATE TABLE parcels (
    order_id             TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
    parcel_no            INTEGER NOT NULL DEFAULT 1,
    parcel_count         INTEGER NOT NULL DEFAULT 1,
    items                TEXT,
    barcode              TEXT NOT NULL UNIQUE,
    product_code         TEXT NOT NULL,
    product_options      TEXT NOT NULL DEFAULT '[]',
    weight_g             INTEGER NOT NULL,
    package_reference_id TEXT NOT NULL DEFAULT '1',
    reserved_at          TEXT NOT NULL,
    labelled_at          TEXT,
    printed_at           TEXT,
    confirmed_at         TEXT,
    confirm_error        TEXT,
    PRIMARY KEY (order_id, parcel_no)
);
INSERT INTO parcels(order_id, barcode, product_code, product_options, weight_g,
    package_reference_id, reserved_at, labelled_at, printed_at, confirmed_at, confirm_error)
SELECT order_id, barcode, product_code, product_options, weight_g, package_reference_id,
    reserved_at, labelled_at, printed_at, confirmed_at, confirm_error FROM parcels_v8;
DROP TABLE parcels_v8;
CREATE INDEX parcels_unconfirmed ON parcels(confirmed_at) WHERE confirmed_at IS NULL;

CREATE TABLE label_files_v8 AS SELECT * FROM label_files;
DROP TABLE label_files;
CREATE TABLE label_files (
    order_id   TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
    parcel_no  INTEGER NOT NULL DEFAULT 1,
    barcode    TEXT NOT NULL,
    label_type TEXT NOT NULL,
    pdf        BLOB NOT NULL,
    format     TEXT NOT NULL DEFAULT 'pdf',
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_id, parcel_no)
);
INSERT INTO label_files(order_id, barcode, label_type, pdf, created_at)
SELECT order_id, barcode, label_type, pdf, created_at FROM label_files_v8;
DROP TABLE label_files_v8;

-- A person's `fulfil review split ORDER --parcels N`: the order ships as N parcels
-- (1: one) whatever the `[labels.parcels]` rules say.
CREATE TABLE parcel_splits (
    order_id TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
    parcels  INTEGER NOT NULL,
    set_at   TEXT NOT NULL
);
