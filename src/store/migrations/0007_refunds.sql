-- Refunds Amazon paid out, read from the Finances API v0 listFinancialEvents (issue #17).
-- Number 7 is this change's; the runner applies whatever numbers are above `user_version`.
--
-- An invoice may now have several credit notes (one per refund), so the index that
-- allowed one goes; what is left to credit is checked per line before a number is taken
-- (src/invoice/refund.rs), and a cancellation is credited only without an earlier one.
DROP INDEX invoices_one_credit_per_invoice;
CREATE INDEX invoices_corrects ON invoices(corrects) WHERE kind = 'credit_note';

-- One row per refund event. `refund_key` is the event's identity across re-reads: the
-- order id, the posted time and the sorted adjustment item ids (see src/refunds.rs), so
-- that the 48-hour overlap of every run and a rerun after a kill insert nothing twice.
-- No personal data: order ids, SKUs, quantities and amounts only. Rows outlive purge, like
-- the ledger: they are what the credit notes were made from.
CREATE TABLE refunds (
    refund_key      TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL,
    posted_at       TEXT NOT NULL,
    marketplace     TEXT,
    -- What the credit note's upload sends as metadata:transactionid when
    -- invoices.credit_note_transaction_id = "refund": Amazon's first adjustment item id.
    transaction_id  TEXT NOT NULL,
    -- The event's items and charges as fulfil read them (JSON, see refunds::RefundEvent).
    items           TEXT NOT NULL,
    -- pending: waits for its credit note (or for its order's invoice);
    -- credited: `credit_note` is the document; review: a person must look (`reason`);
    -- settled: a person said it was handled outside fulfil (`fulfil review
    -- settle-refunds`), so fulfil never credits it.
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'credited', 'review', 'settled')),
    reason          TEXT,
    credit_note     INTEGER REFERENCES invoices(id),
    first_seen_at   TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    CHECK ((status = 'credited') = (credit_note IS NOT NULL))
);
CREATE INDEX refunds_status ON refunds(status, posted_at);
CREATE INDEX refunds_order ON refunds(order_id);
CREATE UNIQUE INDEX refunds_credit_note ON refunds(credit_note) WHERE credit_note IS NOT NULL;
