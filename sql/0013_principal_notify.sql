-- 0013: every change that can alter a bearer check announces itself, from a trigger so that no
-- code path can forget: NOTIFY tollgate_principal with "s:<session id>" (a session revoked, cut
-- short or deleted) or "u:<user id>" (the User object, role, status or plan changed, or the user
-- deleted). Workers keep the sessions they checked in memory (principal.h) and drop what these
-- name; notifications are delivered at commit, so a rolled-back change announces nothing.

CREATE FUNCTION notify_principal_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_principal', 's:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_notify_principal
    AFTER UPDATE OF revoked_at, expires_at, user_id OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_principal_session();

CREATE FUNCTION notify_principal_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_principal', 'u:' || OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER users_notify_principal
    AFTER UPDATE OF email, name, role, status, email_verified_at, mfa_enabled, terms_version OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_principal_user();

-- The plan of the User object comes from the subscriptions (user_plan).
CREATE FUNCTION notify_principal_subscription() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('tollgate_principal', 'u:' || NEW.user_id::text);
    END IF;
    IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.user_id IS DISTINCT FROM NEW.user_id) THEN
        PERFORM pg_notify('tollgate_principal', 'u:' || OLD.user_id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER subscriptions_notify_principal
    AFTER INSERT OR UPDATE OR DELETE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION notify_principal_subscription();
