-- Consents and policies in history (GET /v1/history, issues 14 and 15): what /v1/check
-- decided at a past instant depends on the policy in force for the call and on the
-- consents it knew then, so both are recorded by data version, as do-not-call entries
-- are (dnc_entry_states, migration 0020). Rows are written by triggers running as the
-- owner, for every writer (the API, a bulk load, ones added later); the serving role
-- only reads them (store::roles). They hold no phone number: a consent's number stays in
-- `consents`, which retention erases (erase_expired_evidence).

-- Each consent from the version that recorded it (withdrawn = false) and from the one
-- that withdrew it (withdrawn = true). Whether it counted at an instant is then: known by
-- the version in force, not withdrawn by it, and given_at <= instant < expires_at.
CREATE TABLE consent_states (
    consent_id bigint  NOT NULL,
    version    bigint  NOT NULL,
    withdrawn  boolean NOT NULL,
    CONSTRAINT consent_states_pkey PRIMARY KEY (consent_id, version)
);

CREATE FUNCTION record_added_consent_states() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO consent_states (consent_id, version, withdrawn)
    SELECT id, version, withdrawn_at IS NOT NULL FROM added;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION record_added_consent_states() FROM PUBLIC;
-- Once per statement: a bulk load inserts a million at a time.
CREATE TRIGGER consent_state_added
    AFTER INSERT ON consents REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION record_added_consent_states();

CREATE FUNCTION record_consent_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO consent_states (consent_id, version, withdrawn)
    VALUES (NEW.id, NEW.version, NEW.withdrawn_at IS NOT NULL)
    ON CONFLICT ON CONSTRAINT consent_states_pkey DO UPDATE SET withdrawn = EXCLUDED.withdrawn;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION record_consent_state() FROM PUBLIC;
CREATE TRIGGER consent_state_changed
    AFTER UPDATE ON consents
    FOR EACH ROW
    WHEN (OLD.withdrawn_at IS DISTINCT FROM NEW.withdrawn_at)
    EXECUTE FUNCTION record_consent_state();

-- Each policy from every version that set or removed it (removed = true: no policy of
-- that client or campaign from then on).
CREATE TABLE policy_states (
    policy_id        bigint  NOT NULL,
    version          bigint  NOT NULL,
    removed          boolean NOT NULL,
    consent_required boolean NOT NULL,
    purpose          text    NOT NULL,
    changed_by       bigint,
    CONSTRAINT policy_states_pkey PRIMARY KEY (policy_id, version)
);

CREATE FUNCTION record_policy_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO policy_states (policy_id, version, removed, consent_required, purpose, changed_by)
    VALUES (NEW.id, NEW.version, NEW.removed_at IS NOT NULL, NEW.consent_required, NEW.purpose,
            coalesce(NEW.removed_by, NEW.updated_by))
    ON CONFLICT ON CONSTRAINT policy_states_pkey DO UPDATE
        SET removed = EXCLUDED.removed, consent_required = EXCLUDED.consent_required,
            purpose = EXCLUDED.purpose, changed_by = EXCLUDED.changed_by;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION record_policy_state() FROM PUBLIC;
CREATE TRIGGER policy_state_changed
    AFTER INSERT OR UPDATE ON policies
    FOR EACH ROW EXECUTE FUNCTION record_policy_state();

-- What was there before: every policy change is in the audit log with its version
-- (`policy.set`, exact), and each policy's current state at its version; each consent's
-- current state at its version, and for a withdrawn one its recording at the first
-- version committed after it was made (consents were never changed otherwise).
INSERT INTO policy_states (policy_id, version, removed, consent_required, purpose, changed_by)
    SELECT substr(a.subject, 8)::bigint, (a.details ->> 'version')::bigint, false,
           (a.details -> 'after' ->> 'consent_required')::boolean,
           a.details -> 'after' ->> 'purpose', a.actor
      FROM audit_log a
     WHERE a.action = 'policy.set' AND a.subject LIKE 'policy:%'
       AND a.details ? 'version' AND a.details -> 'after' ? 'consent_required'
       AND EXISTS (SELECT 1 FROM policies p WHERE p.id = substr(a.subject, 8)::bigint)
    ON CONFLICT DO NOTHING;
INSERT INTO policy_states (policy_id, version, removed, consent_required, purpose, changed_by)
    SELECT id, version, removed_at IS NOT NULL, consent_required, purpose,
           coalesce(removed_by, updated_by)
      FROM policies
    ON CONFLICT DO NOTHING;
INSERT INTO consent_states (consent_id, version, withdrawn)
    SELECT id, version, withdrawn_at IS NOT NULL FROM consents;
INSERT INTO consent_states (consent_id, version, withdrawn)
    SELECT c.id,
           (SELECT min(l.version) FROM data_version_log l WHERE l.committed_at >= c.created_at),
           false
      FROM consents c
     WHERE c.withdrawn_at IS NOT NULL
       AND (SELECT min(l.version) FROM data_version_log l WHERE l.committed_at >= c.created_at) < c.version
    ON CONFLICT DO NOTHING;
