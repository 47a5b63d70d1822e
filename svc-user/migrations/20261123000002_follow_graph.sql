-- The follow graph. `seq` orders edges by creation: lists page on it (newest first) with a
-- keyset cursor, which stays correct while follows come and go between pages.
CREATE TABLE follows (
    follower_id BIGINT      NOT NULL REFERENCES profiles (user_id),
    followee_id BIGINT      NOT NULL REFERENCES profiles (user_id),
    seq         BIGSERIAL   NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
-- ListFollowers, ListFollowerIds (fan-out): a user's followers, newest first, index-only.
CREATE UNIQUE INDEX follows_followee_seq ON follows (followee_id, seq DESC) INCLUDE (follower_id);
-- ListFollowing, ListFollowingIds: whom a user follows, newest first, index-only.
CREATE UNIQUE INDEX follows_follower_seq ON follows (follower_id, seq DESC) INCLUDE (followee_id);

-- SearchUsers: case-insensitive prefix match (LIKE 'abc%') on username and display name.
CREATE INDEX profiles_username_prefix ON profiles (lower(username) text_pattern_ops);
CREATE INDEX profiles_display_name_prefix ON profiles (lower(display_name) text_pattern_ops);

-- Events already applied (ApplyTweetCountEvent), so a redelivery changes nothing.
CREATE TABLE applied_events (
    event_id   TEXT        PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Events for svc-timeline, written in the transaction of the change (see xir_common::outbox).
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
