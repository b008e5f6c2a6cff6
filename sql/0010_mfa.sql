-- 0010: two-factor sign-in (TOTP, RFC 6238) with recovery codes, and the short-lived challenge
-- between a login's password step and its code step.

CREATE TABLE mfa_factors (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed bytea NOT NULL,            -- AES-256-GCM under mfa_encryption_key
    enabled_at    timestamptz,               -- NULL: set up, not confirmed by a code yet
    last_step     bigint NOT NULL DEFAULT 0, -- the last TOTP step accepted: a code is used once
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mfa_recovery_codes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash text NOT NULL,                 -- SHA-256 of the normalised code
    used_at   timestamptz,
    UNIQUE (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);
