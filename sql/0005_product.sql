-- 0005: the product — projects, documents (chunked, full-text indexed), agents, conversations and
-- messages — and its metering: counters per user and metric, token usage per period with
-- reservations, and the 80 %/100 % notices (once per metric, period and threshold).

-- Every plan with a token allowance lists at least one model (its users chat through LiteLLM).
UPDATE plans SET litellm_models = '["gpt-4o-mini"]'
 WHERE litellm_models = '[]' AND coalesce(limit_monthly_tokens, 1) > 0;

CREATE TABLE projects (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    description    text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    document_count integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_user ON projects (user_id, updated_at DESC, id);

CREATE TABLE documents (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    content    text NOT NULL DEFAULT '' CHECK (octet_length(content) <= 1048576),
    size_bytes integer NOT NULL GENERATED ALWAYS AS (octet_length(content)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_project ON documents (project_id, updated_at DESC, id);
CREATE INDEX documents_user ON documents (user_id);

-- A document is split into passages of about a thousand characters on write (src/product); each
-- is indexed for full-text search. project_id is repeated so a project's search needs no join.
CREATE TABLE document_chunks (
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    project_id  uuid NOT NULL,
    content     text NOT NULL,
    tsv         tsvector NOT NULL GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    PRIMARY KEY (document_id, seq)
);
CREATE INDEX document_chunks_tsv ON document_chunks USING gin (tsv);
CREATE INDEX document_chunks_project ON document_chunks (project_id);

CREATE TABLE agents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 120),
    model         text NOT NULL,
    system_prompt text NOT NULL DEFAULT '' CHECK (char_length(system_prompt) <= 20000),
    project_id    uuid REFERENCES projects (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_user ON agents (user_id, updated_at DESC, id);
CREATE INDEX agents_project ON agents (project_id) WHERE project_id IS NOT NULL;

CREATE TABLE conversations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id      uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    title         text NOT NULL,
    message_count integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_agent ON conversations (agent_id, updated_at DESC, id);
CREATE INDEX conversations_user ON conversations (user_id, updated_at DESC);

CREATE TABLE messages (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    role              text NOT NULL CHECK (role IN ('user', 'assistant')),
    content           text NOT NULL,
    prompt_tokens     integer,
    completion_tokens integer,
    total_tokens      integer,
    sources           jsonb NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, seq);

-- Counted resources per user: the row of (user, metric) is taken with a conditional UPDATE, so
-- parallel creates at the limit make exactly one (PostgreSQL re-checks the condition on the row
-- it waited for). Deletes give back through triggers, so no code path can forget one.
CREATE TABLE usage_counts (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    metric  text NOT NULL CHECK (metric IN ('projects', 'documents', 'agents')),
    used    integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (user_id, metric)
);
INSERT INTO usage_counts (user_id, metric)
SELECT u.id, m.metric FROM users u, (VALUES ('projects'), ('documents'), ('agents')) m (metric);

CREATE FUNCTION usage_counts_for_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_counts (user_id, metric)
    VALUES (NEW.id, 'projects'), (NEW.id, 'documents'), (NEW.id, 'agents');
    RETURN NULL;
END $$;
CREATE TRIGGER users_usage_counts AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION usage_counts_for_new_user();

CREATE FUNCTION usage_counts_give_back() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_counts SET used = used - 1
     WHERE user_id = OLD.user_id AND metric = TG_ARGV[0] AND used > 0;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_give_back AFTER DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION usage_counts_give_back('projects');
CREATE TRIGGER documents_give_back AFTER DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION usage_counts_give_back('documents');
CREATE TRIGGER agents_give_back AFTER DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION usage_counts_give_back('agents');

-- A project's document_count follows its documents.
CREATE FUNCTION project_document_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE projects SET document_count = document_count + 1 WHERE id = NEW.project_id;
    ELSE
        UPDATE projects SET document_count = document_count - 1 WHERE id = OLD.project_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER documents_count AFTER INSERT OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION project_document_count();

-- The usage period of a user: the subscription's billing period on a paid plan, else the calendar
-- month (UTC). A new period is a new token_usage row: the allowance starts from zero, no job.
CREATE FUNCTION usage_period(p_user uuid, OUT period_start timestamptz, OUT period_end timestamptz)
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    IF user_plan(p_user) <> 'free' THEN
        SELECT s.current_period_start, s.current_period_end INTO period_start, period_end
          FROM subscriptions s
         WHERE s.user_id = p_user AND s.status IN ('active', 'trialing', 'past_due')
           AND s.current_period_start <= now() AND s.current_period_end > now()
         ORDER BY s.created_at DESC LIMIT 1;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    period_start := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    period_end := period_start + interval '1 month';
END $$;

-- Tokens of one period: used (settled to LiteLLM's reported usage) and reserved (chats under way).
CREATE TABLE token_usage (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    used         bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    reserved     bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (user_id, period_start)
);

-- One reservation per chat under way; settled (deleted) when the chat ends; one a crash leaves
-- expires after 10 minutes (given back by the next reservation of the user, or a jobs task).
CREATE TABLE token_reservations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period_start timestamptz NOT NULL,
    tokens       bigint NOT NULL CHECK (tokens > 0),
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '10 minutes',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX token_reservations_user ON token_reservations (user_id, expires_at);
CREATE INDEX token_reservations_expiry ON token_reservations (expires_at);

-- Reaching 80 % and 100 % of a metric notifies once per period: the unique key, not code, says so.
CREATE TABLE usage_notices (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    metric       text NOT NULL,
    period_start timestamptz NOT NULL,
    threshold    integer NOT NULL CHECK (threshold IN (80, 100)),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, metric, period_start, threshold)
);
