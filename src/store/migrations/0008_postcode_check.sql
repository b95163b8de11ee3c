-- PostNL's postal-code check answers (issue #18). Number 8: the numbers in between belong
-- to other changes; the runner applies whatever numbers are above `user_version`.

-- What the register answered for (postcode, house number, addition): a JSON array of
-- {street, house_nr, addition, city}, `[]` when it knows no such address. The answer
-- describes a place, no more than a label for that address carries; it is still kept
-- only while an order that holds personal data refers to it.
CREATE TABLE postcode_checks (
    postcode   TEXT NOT NULL,
    house_nr   TEXT NOT NULL,
    addition   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (postcode, house_nr, addition)
);

-- Which order a cached answer was asked for. Purge and forget-order delete the order's
-- links, and then every answer without a link.
CREATE TABLE postcode_check_orders (
    postcode TEXT NOT NULL,
    house_nr TEXT NOT NULL,
    addition TEXT NOT NULL,
    order_id TEXT NOT NULL,
    PRIMARY KEY (postcode, house_nr, addition, order_id),
    FOREIGN KEY (postcode, house_nr, addition)
        REFERENCES postcode_checks(postcode, house_nr, addition) ON DELETE CASCADE
);
CREATE INDEX postcode_check_orders_order ON postcode_check_orders(order_id);
