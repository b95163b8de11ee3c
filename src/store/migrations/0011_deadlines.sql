-- Deadlines Amazon sets for an order (issue #23), from the Orders API's fulfillment
-- block: the delivery promise and the earliest time a label may be printed. The ship-by
-- window and the service level were kept from the start (0001). None of this is
-- personal data: it stays after purge, so that late-shipment rates can be computed later.
ALTER TABLE orders ADD COLUMN deliver_by_earliest TEXT;
ALTER TABLE orders ADD COLUMN deliver_by_latest TEXT;
ALTER TABLE orders ADD COLUMN label_from TEXT;

-- Status, review, the alerts and make-labels read open orders by deadline on every
-- run; the late-shipment rate reads a window of deadlines.
CREATE INDEX orders_ship_by ON orders(ship_by_latest);
