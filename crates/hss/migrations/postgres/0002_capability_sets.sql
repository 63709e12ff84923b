-- S-CSCF capability sets (TS 29.228 §6.7, TS 29.229 §6.3.3 Server-Capabilities): what UAA/LIA carry
-- when no S-CSCF is assigned. A subscription names its set (capability profile); NULL = the set
-- named 'default'. Same statements for SQLite and PostgreSQL.
CREATE TABLE capability_set (
    name         TEXT PRIMARY KEY,
    mandatory    TEXT NOT NULL,
    optional     TEXT NOT NULL,
    server_names TEXT NOT NULL
);

ALTER TABLE subscription ADD COLUMN capability_set TEXT
    REFERENCES capability_set(name) ON DELETE SET NULL;

-- S-CSCF reassignment pending flag (TS 29.228 §6.1.1.1, §8.1): set by a UAR of type
-- REGISTRATION_AND_CAPABILITIES, lets the next SAR from another S-CSCF take the assignment over.
ALTER TABLE subscription ADD COLUMN scscf_reassignment_pending BIGINT NOT NULL DEFAULT 0;
