-- Orders and their financial data: no personal data in these tables.
CREATE TABLE orders (
    order_id            TEXT PRIMARY KEY,
    marketplace_id      TEXT NOT NULL,
    fulfilled_by        TEXT NOT NULL,
    amazon_status       TEXT NOT NULL,
    stage               TEXT NOT NULL,
    service_level       TEXT,
    programs            TEXT NOT NULL DEFAULT '[]',
    is_business         INTEGER NOT NULL DEFAULT 0,
    created_at          TEXT NOT NULL,
    amazon_updated_at   TEXT NOT NULL,
    ship_by_earliest    TEXT,
    ship_by_latest      TEXT,
    currency            TEXT,
    grand_total         TEXT,
    destination_country TEXT,
    has_pii             INTEGER NOT NULL DEFAULT 0,
    fulfilled_at        TEXT,
    cancelled_at        TEXT,
    pii_due_at          TEXT,
    pii_purged_at       TEXT,
    first_seen_at       TEXT NOT NULL,
    synced_at           TEXT NOT NULL
);
CREATE INDEX orders_stage ON orders(stage);
CREATE INDEX orders_pii_due ON orders(pii_due_at) WHERE pii_purged_at IS NULL;

CREATE TABLE order_items (
    order_id          TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
    order_item_id     TEXT NOT NULL,
    seller_sku        TEXT,
    asin              TEXT,
    title             TEXT,
    quantity          INTEGER NOT NULL,
    quantity_shipped  INTEGER,
    unit_price        TEXT,
    currency          TEXT,
    item_amount       TEXT,
    shipping_amount   TEXT,
    gift_wrap_amount  TEXT,
    discount_amount   TEXT,
    tax_amount        TEXT,
    other_amount      TEXT,
    proceeds_total    TEXT,
    PRIMARY KEY (order_id, order_item_id)
);

-- Shipments Amazon already knows about (PACKAGES): carrier and tracking, no personal data.
CREATE TABLE order_packages (
    order_id             TEXT NOT NULL REFERENCES orders(order_id) ON DELETE CASCADE,
    package_reference_id TEXT NOT NULL,
    carrier              TEXT,
    tracking_number      TEXT,
    ship_time            TEXT,
    status               TEXT,
    PRIMARY KEY (order_id, package_reference_id)
);

-- Personal data, apart, so that purge can remove it wholesale.
CREATE TABLE order_pii (
    order_id           TEXT PRIMARY KEY REFERENCES orders(order_id) ON DELETE CASCADE,
    buyer_name         TEXT,
    buyer_company      TEXT,
    buyer_vat_id       TEXT,
    buyer_vat_country  TEXT,
    recipient_name     TEXT,
    recipient_company  TEXT,
    address_line1      TEXT,
    address_line2      TEXT,
    address_line3      TEXT,
    city               TEXT,
    district           TEXT,
    state_region       TEXT,
    postal_code        TEXT,
    country_code       TEXT,
    phone              TEXT,
    address_type       TEXT
);

-- Why an order could not be processed by a command; reasons carry no personal data.
CREATE TABLE order_issues (
    order_id   TEXT NOT NULL,
    command    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT,
    at         TEXT NOT NULL,
    PRIMARY KEY (order_id, command)
);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE rate_buckets (
    operation  TEXT PRIMARY KEY,
    rate       TEXT NOT NULL,
    burst      INTEGER NOT NULL,
    tokens     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    command     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_command ON runs(command, finished_at);
