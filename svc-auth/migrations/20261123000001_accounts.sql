-- Credentials. The user id is assigned here and becomes the key of the profile in svc-user.
CREATE TABLE accounts (
    user_id       BIGINT      PRIMARY KEY CHECK (user_id > 0),
    username      TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    -- argon2id in PHC string format, so stronger parameters can apply later (rehash on login).
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Unique regardless of case; login by username or email reads these.
CREATE UNIQUE INDEX accounts_username_lower_key ON accounts (lower(username));
CREATE UNIQUE INDEX accounts_email_lower_key ON accounts (lower(email));
