-- 0003: plans and prices, Stripe customers, subscriptions, invoices, webhook events,
-- LiteLLM virtual keys; user_plan() now follows the subscription.

CREATE TABLE plans (
    code                    text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    name                    text NOT NULL,
    description             text NOT NULL DEFAULT '',
    features                jsonb NOT NULL DEFAULT '[]',
    -- limits: NULL = unlimited
    limit_projects          integer,
    limit_documents         integer,
    limit_agents            integer,
    limit_monthly_tokens    bigint,
    -- LiteLLM virtual key parameters for subscribers
    litellm_models          jsonb NOT NULL DEFAULT '[]',
    litellm_tpm_limit       integer,
    litellm_rpm_limit       integer,
    litellm_max_budget      numeric(12, 2),
    litellm_budget_duration text,
    sort_order              integer NOT NULL DEFAULT 0,
    archived_at             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plan_prices (
    plan_code       text NOT NULL REFERENCES plans (code) ON UPDATE CASCADE ON DELETE CASCADE,
    interval        text NOT NULL CHECK (interval IN ('month', 'year')),
    amount          integer NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    stripe_price_id text UNIQUE,
    PRIMARY KEY (plan_code, interval)
);

INSERT INTO plans (code, name, description, features, limit_projects, limit_documents, limit_agents,
                   limit_monthly_tokens, litellm_models, litellm_tpm_limit, litellm_rpm_limit, sort_order) VALUES
    ('free', 'Free', 'For trying things out.',
     '["3 projects", "50 documents", "1 agent", "100k tokens a month"]', 3, 50, 1, 100000, '[]', NULL, NULL, 0),
    ('pro', 'Pro', 'For professionals who ship every day.',
     '["20 projects", "1,000 documents", "10 agents", "2M tokens a month", "Email support"]',
     20, 1000, 10, 2000000, '["gpt-4o-mini", "claude-3-5-haiku"]', 100000, 60, 1),
    ('enterprise', 'Enterprise', 'For teams that need no limits.',
     '["Unlimited projects", "Unlimited documents", "Unlimited agents", "Unlimited tokens", "Priority support"]',
     NULL, NULL, NULL, NULL, '["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-5-haiku"]', 1000000, 600, 2);

-- Stripe price ids come from the configuration (stripe_prices) or the admin API.
INSERT INTO plan_prices (plan_code, interval, amount, currency) VALUES
    ('pro', 'month', 1900, 'usd'), ('pro', 'year', 19000, 'usd'),
    ('enterprise', 'month', 9900, 'usd'), ('enterprise', 'year', 99000, 'usd');

CREATE TABLE stripe_customers (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    stripe_customer_id text NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stripe_subscription_id text NOT NULL UNIQUE,
    stripe_customer_id     text NOT NULL,
    plan_code              text NOT NULL REFERENCES plans (code) ON UPDATE CASCADE,
    interval               text NOT NULL DEFAULT 'month',
    status                 text NOT NULL,
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    canceled_at            timestamptz,
    ended_at               timestamptz,
    past_due_since         timestamptz,
    last_event_created     bigint NOT NULL DEFAULT 0,  -- `created` of the last event applied
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user ON subscriptions (user_id, created_at DESC);
CREATE INDEX subscriptions_status ON subscriptions (status, plan_code);

CREATE TABLE invoices (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    stripe_invoice_id        text NOT NULL UNIQUE,
    user_id                  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stripe_subscription_id   text,
    stripe_charge_id         text,
    stripe_payment_intent_id text,
    number                   text,
    status                   text NOT NULL,
    amount_due               bigint NOT NULL DEFAULT 0,
    amount_paid              bigint NOT NULL DEFAULT 0,
    amount_refunded          bigint NOT NULL DEFAULT 0,
    currency                 text NOT NULL DEFAULT 'usd',
    hosted_invoice_url       text,
    invoice_pdf              text,
    period_start             timestamptz,
    period_end               timestamptz,
    created                  timestamptz NOT NULL DEFAULT now(),
    last_event_created       bigint NOT NULL DEFAULT 0,
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoices_user ON invoices (user_id, created DESC);
CREATE INDEX invoices_charge ON invoices (stripe_charge_id);
CREATE INDEX invoices_payment_intent ON invoices (stripe_payment_intent_id);

-- Every webhook event, stored before it is acknowledged; applied once.
CREATE TABLE stripe_events (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    created         bigint NOT NULL,
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text
);
CREATE INDEX stripe_events_pending ON stripe_events (next_attempt_at) WHERE processed_at IS NULL;
CREATE INDEX stripe_events_received ON stripe_events (received_at);

-- One LiteLLM virtual key per paying user; the key itself is AES-256-GCM encrypted.
CREATE TABLE litellm_keys (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_ciphertext bytea NOT NULL,
    key_alias      text NOT NULL,
    plan_code      text NOT NULL,
    blocked        boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Plan access: active and trialing give the plan; past_due keeps it for a grace period
-- (tollgate.past_due_grace_days, set per connection by the server); otherwise free.
-- PL/pgSQL, not SQL: a SQL function with a sub-select is not inlined and would be planned
-- again on every call; PL/pgSQL keeps its plan for the connection's life.
CREATE OR REPLACE FUNCTION user_plan(p_user uuid) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    plan text;
BEGIN
    SELECT s.plan_code INTO plan FROM subscriptions s
     WHERE s.user_id = p_user
       AND (s.status IN ('active', 'trialing')
            OR (s.status = 'past_due' AND s.past_due_since > now() - make_interval(
                    days => coalesce(nullif(current_setting('tollgate.past_due_grace_days', true), '')::int, 7))))
     ORDER BY s.created_at DESC LIMIT 1;
    RETURN coalesce(plan, 'free');
END $$;
