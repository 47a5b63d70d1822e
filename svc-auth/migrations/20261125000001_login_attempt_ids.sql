-- Each login attempt claims its row before the password is checked (so parallel attempts see
-- each other), and a successful one gives its claim back: rows need an id to be given back.
ALTER TABLE login_failures ADD COLUMN id BIGSERIAL PRIMARY KEY;
