-- Invoices and credit notes (issue #6). Issued documents never change: no statement in
-- fulfil updates `invoices`, and nothing here cascades from `orders`, so a document and its
-- ledger row outlive the order's personal data.

-- One row per issued document. `document` is the frozen InvoiceDocument as JSON *without*
-- the customer block (that is personal data and lives in `invoice_pii`); together they
-- render to the PDF whose SHA-256 is `pdf_sha256`. `computation` is the VAT engine's
-- result, kept so that a credit note can reverse exactly what was invoiced.
-- Numbers: `prefix`-`year`-`seq` (e.g. INV-2026-000123), gapless per (prefix, year) because
-- `seq` is max + 1, taken inside the transaction that inserts the row.
CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    prefix          TEXT NOT NULL,
    year            INTEGER NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq > 0),
    order_id        TEXT NOT NULL,
    marketplace_id  TEXT NOT NULL,
    corrects        INTEGER REFERENCES invoices(id),
    issue_date      TEXT NOT NULL,
    issued_at       TEXT NOT NULL,
    document        TEXT NOT NULL,
    computation     TEXT NOT NULL,
    document_sha256 TEXT NOT NULL,
    pdf_sha256      TEXT NOT NULL,
    pdf_bytes       INTEGER NOT NULL,
    file_path       TEXT NOT NULL,
    UNIQUE (prefix, year, seq),
    CHECK ((kind = 'credit_note') = (corrects IS NOT NULL))
);
CREATE UNIQUE INDEX invoices_one_per_order ON invoices(order_id) WHERE kind = 'invoice';
CREATE UNIQUE INDEX invoices_one_credit_per_invoice ON invoices(corrects) WHERE kind = 'credit_note';

-- Personal data: the customer block printed on a document (name, company, address, VAT
-- number). Purge deletes these rows by order id; the document then renders without them.
CREATE TABLE invoice_pii (
    invoice_id INTEGER PRIMARY KEY REFERENCES invoices(id),
    order_id   TEXT NOT NULL,
    buyer      TEXT NOT NULL
);
CREATE INDEX invoice_pii_order ON invoice_pii(order_id);

-- The anonymised tax ledger: one row per document, no personal data, kept for the
-- statutory retention period (it is what survives purge, and `fulfil tax-report` reads
-- nothing else). `buyer_vat_id` is filled ONLY for intra-Community supplies (Art. 138),
-- because the Dutch EC Sales List (opgaaf ICP) must list the customer's VAT number per
-- supply; for every other document it stays NULL.
-- `tax_point` decides the return period: the date of supply for an invoice, the date of
-- issue for a credit note (the reduction happens when it is granted).
CREATE TABLE tax_ledger (
    number              TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    issue_date          TEXT NOT NULL,
    supply_date         TEXT NOT NULL,
    tax_point           TEXT NOT NULL,
    order_id            TEXT NOT NULL,
    marketplace_id      TEXT NOT NULL,
    corrects_number     TEXT,
    corrects_date       TEXT,
    regime              TEXT NOT NULL,
    vat_country         TEXT NOT NULL,
    destination_country TEXT NOT NULL,
    currency            TEXT NOT NULL,
    total_net           TEXT NOT NULL,
    total_vat           TEXT NOT NULL,
    total_gross         TEXT NOT NULL,
    eur_rate            TEXT,
    eur_rate_date       TEXT,
    eur_rate_source     TEXT,
    total_net_eur       TEXT NOT NULL,
    total_vat_eur       TEXT NOT NULL,
    total_gross_eur     TEXT NOT NULL,
    is_b2b              INTEGER NOT NULL,
    reverse_charge      INTEGER NOT NULL,
    buyer_vat_id        TEXT CHECK (buyer_vat_id IS NULL OR reverse_charge = 1),
    seller_vat_id       TEXT NOT NULL,
    recorded_at         TEXT NOT NULL
);
CREATE INDEX tax_ledger_tax_point ON tax_ledger(tax_point);

-- Per document and VAT rate: taxable amount and VAT, in the document currency and in EUR.
CREATE TABLE tax_ledger_rates (
    number  TEXT NOT NULL REFERENCES tax_ledger(number),
    rate    TEXT NOT NULL,
    code    TEXT NOT NULL,
    net     TEXT NOT NULL,
    vat     TEXT NOT NULL,
    gross   TEXT NOT NULL,
    net_eur TEXT NOT NULL,
    vat_eur TEXT NOT NULL,
    PRIMARY KEY (number, rate)
);

-- The upload queue (Feeds API, UPLOAD_VAT_INVOICE): one row per document, kept after the
-- upload with Amazon's verdict. status: queued → submitted → accepted | rejected, or
-- skipped (a marketplace without uploads, or the seller is on Amazon's VCS).
CREATE TABLE invoice_uploads (
    invoice_id        INTEGER PRIMARY KEY REFERENCES invoices(id),
    marketplace_id    TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 0,
    status            TEXT NOT NULL,
    reason            TEXT,
    feed_document_id  TEXT,
    feed_id           TEXT,
    processing_status TEXT,
    error_code        TEXT,
    error_message     TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    queued_at         TEXT NOT NULL,
    submitted_at      TEXT,
    finished_at       TEXT,
    updated_at        TEXT NOT NULL
);
CREATE INDEX invoice_uploads_open ON invoice_uploads(status, priority, invoice_id)
    WHERE status IN ('queued', 'submitted');

-- ECB euro reference rates fetched so far (units of `currency` per EUR). `asked_date` is
-- the date asked for; `rate_date` the publication the answer came from (the last one on or
-- before a weekend or holiday).
CREATE TABLE ecb_rates (
    currency   TEXT NOT NULL,
    asked_date TEXT NOT NULL,
    rate_date  TEXT NOT NULL,
    rate       TEXT NOT NULL,
    source     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (currency, asked_date)
);
