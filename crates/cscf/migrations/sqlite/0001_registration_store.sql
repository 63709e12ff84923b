-- S-CSCF registrations: one row per registered public identity; the body is the JSON record.
CREATE TABLE registration (
    aor         TEXT PRIMARY KEY NOT NULL,
    version     INTEGER NOT NULL,
    next_expiry INTEGER,
    body        TEXT NOT NULL
);
CREATE INDEX registration_next_expiry ON registration (next_expiry) WHERE next_expiry IS NOT NULL;

-- P-CSCF: the UEs it registered.
CREATE TABLE ue_registration (
    impu       TEXT NOT NULL,
    contact    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (impu, contact)
);
CREATE INDEX ue_registration_expires_at ON ue_registration (expires_at);

-- S-CSCF: outstanding IMS-AKA challenges. XRES is a secret and kept as raw bytes.
CREATE TABLE auth_challenge (
    impi       TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    impu       TEXT NOT NULL,
    rand       BLOB NOT NULL,
    xres       BLOB NOT NULL,
    algorithm  TEXT NOT NULL,
    nc_last    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    single_use INTEGER NOT NULL,
    PRIMARY KEY (impi, nonce)
);
CREATE INDEX auth_challenge_expires_at ON auth_challenge (expires_at);
