-- S-CSCF reg-event subscriptions (RFC 3680, TS 24.229 §5.4.2.1.2): the NOTIFY dialog and the
-- last reginfo version, so that NOTIFYs go on after a restart and expiry stays a durable timer.
CREATE TABLE IF NOT EXISTS reg_subscription (
    id         TEXT PRIMARY KEY NOT NULL,
    aor        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reg_subscription_aor ON reg_subscription (aor);
CREATE INDEX IF NOT EXISTS reg_subscription_expiry ON reg_subscription (expires_at);
