-- One parcel per order. The barcode is reserved and committed before the label is
-- asked for, so a rerun reuses it and never makes a second parcel.
CREATE TABLE parcels (
    order_id             TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
    barcode              TEXT NOT NULL UNIQUE,
    product_code         TEXT NOT NULL,
    product_options      TEXT NOT NULL DEFAULT '[]',
    weight_g             INTEGER NOT NULL,
    package_reference_id TEXT NOT NULL DEFAULT '1',
    reserved_at          TEXT NOT NULL,
    labelled_at          TEXT,
    printed_at           TEXT,
    confirmed_at         TEXT,
    confirm_error        TEXT
);
CREATE INDEX parcels_unconfirmed ON parcels(confirmed_at) WHERE confirmed_at IS NULL;

-- Personal data: the label PDFs (they show the address), kept encrypted for reprints.
CREATE TABLE label_files (
    order_id   TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
    barcode    TEXT NOT NULL,
    label_type TEXT NOT NULL,
    pdf        BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Personal data: an address a person corrected with `fulfil review set-address`.
CREATE TABLE address_overrides (
    order_id     TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
    street       TEXT NOT NULL,
    house_nr     TEXT NOT NULL,
    house_nr_ext TEXT,
    zipcode      TEXT,
    city         TEXT,
    set_at       TEXT NOT NULL
);

-- Files written to disk that hold personal data (print files, invoice PDFs), so that
-- purge can find and remove them.
CREATE TABLE tracked_files (
    path       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    order_ids  TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    removed_at TEXT
);
