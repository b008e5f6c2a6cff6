-- 0012: consent to the terms — every acceptance kept (version, time, address), and on the user the
-- last version accepted, so the User object says terms_accepted without another query.

ALTER TABLE users ADD COLUMN terms_version text;

CREATE TABLE terms_acceptances (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version     text NOT NULL,
    ip          text NOT NULL DEFAULT '',
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX terms_acceptances_user ON terms_acceptances (user_id, accepted_at);
