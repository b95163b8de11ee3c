-- Issue #20: every file fulfil writes that holds personal data is recorded, wherever it
-- was told to write it, with what purge needs to tell whether it is still the file
-- fulfil wrote: its size and SHA-256 (recorded before a byte is written). Paths are
-- absolute, their directory resolved, from this version on.
ALTER TABLE tracked_files ADD COLUMN size INTEGER;
ALTER TABLE tracked_files ADD COLUMN sha256 TEXT;
-- Set when purge starts overwriting the file: a rerun after a kill accepts the zeros.
ALTER TABLE tracked_files ADD COLUMN removing_at TEXT;
-- Why purge left the file alone (a reason code), until it goes or is forgotten.
ALTER TABLE tracked_files ADD COLUMN left_alone TEXT;
-- How the record ended: removed (overwritten and unlinked), gone (already), forgotten.
ALTER TABLE tracked_files ADD COLUMN outcome TEXT;

-- The orders a file holds, one row each, for as long as the file is pending: purge finds
-- the files of the orders it removes by index instead of reading every record.
CREATE TABLE tracked_file_orders (
    order_id TEXT NOT NULL,
    path     TEXT NOT NULL REFERENCES tracked_files(path) ON DELETE CASCADE,
    PRIMARY KEY (order_id, path)
) WITHOUT ROWID;
CREATE INDEX tracked_file_orders_path ON tracked_file_orders(path);

INSERT OR IGNORE INTO tracked_file_orders(order_id, path)
    SELECT j.value, f.path FROM tracked_files f, json_each(f.order_ids) j
    WHERE f.removed_at IS NULL;

-- Records from before this version whose path was kept as typed cannot be resolved
-- safely: purge names them for the seller instead of guessing a directory.
UPDATE tracked_files SET left_alone = 'not_absolute'
    WHERE removed_at IS NULL AND substr(path, 1, 1) <> '/';
