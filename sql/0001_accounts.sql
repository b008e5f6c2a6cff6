-- 0001: accounts, sessions, refresh tokens, throttling, audit log, settings.

CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE TABLE users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND length(email) <= 254),
    name              text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    password_hash     text NOT NULL,
    role              text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    suspended_reason  text,
    email_verified_at timestamptz,
    mfa_enabled       boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_created_at ON users (created_at);

-- The plan a user's access is based on. Billing replaces this function; every user query
-- calls it, so the plan stays one indexed lookup away.
CREATE FUNCTION user_plan(p_user uuid) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT 'free'::text $$;

CREATE TABLE sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoked_reason text,
    user_agent    text NOT NULL DEFAULT '',
    ip            text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_live ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are stored only as the hex SHA-256 of their text.
CREATE TABLE refresh_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- Per-account login throttle, keyed by the normalised email (known or not: no enumeration).
CREATE TABLE login_throttle (
    email           text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz
);

-- Counts one login attempt for an email before its password is checked, so concurrent guesses
-- cannot slip past the limit; a successful login deletes the row. Returns the seconds left
-- when the account is already locked (the attempt is refused and not counted), else 0.
-- The 'max'-th attempt within the window locks for p_base seconds, each further one doubles
-- it up to p_cap. A quiet window after the last attempt or lock starts afresh.
CREATE FUNCTION login_throttle_attempt(p_email text, p_max integer, p_window integer,
                                       p_base integer, p_cap integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r  login_throttle;
    nf integer;
    lock_until timestamptz;
BEGIN
    INSERT INTO login_throttle (email, failures, last_failure_at) VALUES (p_email, 0, now())
    ON CONFLICT (email) DO NOTHING;
    SELECT * INTO r FROM login_throttle WHERE email = p_email FOR UPDATE;
    IF r.locked_until > now() THEN
        RETURN greatest(1, ceil(extract(epoch FROM r.locked_until - now()))::integer);
    END IF;
    IF r.failures > 0 AND greatest(r.last_failure_at, coalesce(r.locked_until, r.last_failure_at))
                          < now() - make_interval(secs => p_window) THEN
        nf := 1;
    ELSE
        nf := r.failures + 1;
    END IF;
    lock_until := r.locked_until;
    IF nf >= p_max THEN
        lock_until := now() + make_interval(secs =>
            least(p_cap::double precision, p_base * power(2::double precision, least(nf - p_max, 40))));
    END IF;
    UPDATE login_throttle SET failures = nf, last_failure_at = now(), locked_until = lock_until
     WHERE email = p_email;
    RETURN 0;
END $$;

-- Fixed-window counters for per-IP and per-user limits. Returns the seconds until the
-- window ends when the limit is passed, else 0.
CREATE TABLE rate_limits (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL
);

CREATE FUNCTION rate_limit_hit(p_key text, p_limit integer, p_window integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r rate_limits;
BEGIN
    INSERT INTO rate_limits AS t (key, window_start, count) VALUES (p_key, now(), 1)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN t.window_start <= now() - make_interval(secs => p_window) THEN 1 ELSE t.count + 1 END,
        window_start = CASE WHEN t.window_start <= now() - make_interval(secs => p_window) THEN now() ELSE t.window_start END
    RETURNING * INTO r;
    IF r.count > p_limit THEN
        RETURN greatest(1, ceil(extract(epoch FROM r.window_start + make_interval(secs => p_window) - now()))::integer);
    END IF;
    RETURN 0;
END $$;

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid,          -- no foreign key: the entry outlives a deleted user
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    ip          text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_target ON audit_log (target_id, at);

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO settings (key, value) VALUES
    ('registration_open', 'true'),
    ('maintenance_mode', 'false'),
    ('support_email', '""'),
    ('terms_version', '"2026-11-29"');
