-- Snowflake worker ids leased by the live replicas (common/src/ids.rs): at most one holder per
-- id while its lease has not expired; renewed with every readiness check.
CREATE TABLE worker_leases (
    worker_id  SMALLINT    PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 1023),
    holder     TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
