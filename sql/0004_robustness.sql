-- 0004: jobs set aside after their last attempt; the past_due grace period stored with the
-- subscription (user_plan() no longer reads a per-connection setting); checkout intents, so
-- that a checkout's Stripe calls run outside any transaction and a crash between them is found.

ALTER TABLE jobs ADD COLUMN failed_at timestamptz;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at) WHERE failed_at IS NULL;

-- The end of the grace period of a past_due subscription, fixed when it became past_due with
-- the grace configured then.
ALTER TABLE subscriptions ADD COLUMN grace_until timestamptz;
UPDATE subscriptions SET grace_until = past_due_since + interval '7 days'
 WHERE status = 'past_due' AND past_due_since IS NOT NULL;

CREATE OR REPLACE FUNCTION user_plan(p_user uuid) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
    plan text;
BEGIN
    SELECT s.plan_code INTO plan FROM subscriptions s
     WHERE s.user_id = p_user
       AND (s.status IN ('active', 'trialing') OR (s.status = 'past_due' AND s.grace_until > now()))
     ORDER BY s.created_at DESC LIMIT 1;
    RETURN coalesce(plan, 'free');
END $$;

-- Checkouts being started. One per user at a time: the worker holds a session-level advisory lock
-- of the user while it calls Stripe (no transaction open; released if the worker dies). A row still
-- pending whose lock nobody holds was left by a crash or a timeout: a jobs task expires the
-- Checkout Session it may have created.
CREATE TABLE checkout_intents (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan_code         text NOT NULL,
    interval          text NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'created', 'failed', 'abandoned')),
    stripe_session_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE INDEX checkout_intents_pending ON checkout_intents (created_at) WHERE state = 'pending';
CREATE INDEX checkout_intents_user ON checkout_intents (user_id, created_at);
