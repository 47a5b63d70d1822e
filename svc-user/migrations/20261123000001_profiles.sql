-- Profiles are keyed by the user id svc-auth assigns; svc-auth's outbox creates them.
CREATE TABLE profiles (
    user_id         BIGINT      PRIMARY KEY CHECK (user_id > 0),
    username        TEXT        NOT NULL,
    display_name    TEXT        NOT NULL,
    bio             TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    followers_count BIGINT      NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count BIGINT      NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    tweet_count     BIGINT      NOT NULL DEFAULT 0 CHECK (tweet_count >= 0)
);

-- Usernames are unique regardless of case; GetProfile by username reads this index.
CREATE UNIQUE INDEX profiles_username_lower_key ON profiles (lower(username));
