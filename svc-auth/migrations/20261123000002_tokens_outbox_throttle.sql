-- A refresh-token family starts at each sign-in; every rotation adds a token to it. Presenting
-- a token that was already rotated revokes the whole family (a stolen token was replayed).
CREATE TABLE token_families (
    family_id  UUID        PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES accounts (user_id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX token_families_user ON token_families (user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    -- SHA-256 of the opaque token: the token itself is never stored.
    token_hash BYTEA       PRIMARY KEY,
    family_id  UUID        NOT NULL REFERENCES token_families (family_id) ON DELETE CASCADE,
    issued_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Failed logins per subject ("account:<id>" or "address:<ip>") for throttling.
CREATE TABLE login_failures (
    subject   TEXT        NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_subject_time ON login_failures (subject, failed_at);

-- Events for other services, written in the transaction of the change (see xir_common::outbox).
CREATE TABLE outbox (
    id              BIGSERIAL   PRIMARY KEY,
    topic           TEXT        NOT NULL,
    payload         BYTEA       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until     TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
