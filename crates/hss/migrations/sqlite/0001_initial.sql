-- HSS subscriber schema (TS 29.228 data model). Keep in step with migrations/postgres/0001_initial.sql:
-- same tables, columns and constraints; only the binary type differs (BLOB here, BYTEA there).
CREATE TABLE subscription (
    id                TEXT PRIMARY KEY,
    scscf_name        TEXT,
    scscf_origin_host TEXT
);

CREATE TABLE service_profile (
    subscription_id TEXT NOT NULL REFERENCES subscription(id) ON DELETE CASCADE,
    profile_id      TEXT NOT NULL,
    ifc_json        TEXT NOT NULL,
    PRIMARY KEY (subscription_id, profile_id)
);

CREATE TABLE impi (
    impi            TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscription(id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    k               BLOB NOT NULL,
    op_kind         TEXT NOT NULL CHECK (op_kind IN ('op', 'opc')),
    op              BLOB NOT NULL,
    amf             BLOB NOT NULL,
    sqn_seq         BIGINT NOT NULL CHECK (sqn_seq >= 0),
    sqn_ind_bits    BIGINT NOT NULL CHECK (sqn_ind_bits BETWEEN 0 AND 16),
    sqn_next_ind    BIGINT NOT NULL CHECK (sqn_next_ind >= 0),
    auth_schemes    TEXT NOT NULL,
    default_scheme  TEXT NOT NULL,
    digest_realm    TEXT,
    digest_ha1      BLOB
);
CREATE INDEX impi_subscription ON impi(subscription_id);

CREATE TABLE impu (
    impu            TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscription(id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,
    barred          BIGINT NOT NULL,
    irs_id          TEXT,
    can_register    BIGINT NOT NULL,
    profile_id      TEXT NOT NULL,
    reg_state       TEXT NOT NULL DEFAULT 'NOT_REGISTERED'
        CHECK (reg_state IN ('NOT_REGISTERED', 'REGISTERED', 'UNREGISTERED')),
    FOREIGN KEY (subscription_id, profile_id) REFERENCES service_profile(subscription_id, profile_id)
);
CREATE INDEX impu_subscription ON impu(subscription_id);

CREATE TABLE impi_impu (
    impi TEXT NOT NULL REFERENCES impi(impi) ON DELETE CASCADE,
    impu TEXT NOT NULL REFERENCES impu(impu) ON DELETE CASCADE,
    PRIMARY KEY (impi, impu)
);
CREATE INDEX impi_impu_by_impu ON impi_impu(impu);

CREATE TABLE scscf_capability (
    scscf_name TEXT NOT NULL,
    capability BIGINT NOT NULL,
    mandatory  BIGINT NOT NULL,
    PRIMARY KEY (scscf_name, capability, mandatory)
);

CREATE TABLE roaming_agreement (
    network_id TEXT PRIMARY KEY
);
