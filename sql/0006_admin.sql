-- 0006: the admin panel's foundations: settings announced to every worker (LISTEN/NOTIFY), the
-- admin_mfa_required setting, audit entries with request id and before/after.

INSERT INTO settings (key, value) VALUES ('admin_mfa_required', 'false') ON CONFLICT (key) DO NOTHING;

-- Every worker keeps the settings in memory and drops them when this says they changed.
CREATE FUNCTION notify_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_settings', '');
    RETURN NULL;
END $$;
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION notify_settings();

ALTER TABLE audit_log
    ADD COLUMN request_id text NOT NULL DEFAULT '',
    ADD COLUMN before     jsonb,
    ADD COLUMN after      jsonb;
CREATE INDEX audit_log_action ON audit_log (action, at);
