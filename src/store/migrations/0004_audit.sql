-- The audit log (issue #9): one entry per command run, chained by HMAC-SHA256 (see
-- src/audit.rs). No personal data: counts are reduced to numbers and identifiers.
-- `seq` is chosen by fulfil as the head's seq + 1 inside the appending transaction,
-- so pruning the oldest entries never makes SQLite hand out a number twice.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    command    TEXT NOT NULL,
    uid        INTEGER NOT NULL,
    os_user    TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    counts     TEXT NOT NULL,
    key_epoch  INTEGER NOT NULL,
    prev_mac   TEXT NOT NULL,
    mac        TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

-- Audit keys of earlier key epochs, kept when rotate-key replaced the database key they
-- were derived from, so that entries made before a rotation can still be checked.
CREATE TABLE audit_keys (
    epoch INTEGER PRIMARY KEY,
    key   TEXT NOT NULL
);
