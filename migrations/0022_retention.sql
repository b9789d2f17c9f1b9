-- Retention (GDPR Art. 5(1)(e)): personal data in the evidence is kept for
-- TARCZA_EVIDENCE_RETENTION (6 years by default), then erased by a scheduled job that is
-- itself audited (jobs::retention). The audit log stays append-only for the service:
-- the erasure goes through erase_expired_evidence(), a function of the schema's owner
-- that touches only what is older than the retention period, and the log's trigger lets
-- exactly that change through, made by the owner, and nothing else.

-- How long evidence is kept. Set by the owner at start-up from TARCZA_EVIDENCE_RETENTION;
-- the serving role may read it, not change it (store::roles).
CREATE TABLE evidence_policy (
    singleton boolean  PRIMARY KEY DEFAULT true CONSTRAINT evidence_policy_singleton CHECK (singleton),
    retention interval NOT NULL CONSTRAINT evidence_policy_retention_positive CHECK (retention > interval '0')
);
INSERT INTO evidence_policy (singleton, retention) VALUES (true, interval '6 years');

-- The audit log refuses every UPDATE, DELETE and TRUNCATE but one: the schema's owner
-- (so: inside erase_expired_evidence) erasing the personal data of an event older than
-- the retention period — its number cleared and its details replaced by a marker, every
-- other column as it was.
CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID)
       AND OLD.at < now() - (SELECT retention FROM evidence_policy)
       AND NEW.number IS NULL
       AND NEW.details = '{"erased": "retention"}'::jsonb
       AND to_jsonb(NEW) - 'number' - 'details' = to_jsonb(OLD) - 'number' - 'details'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$;

-- A do-not-call entry whose data was erased keeps this number: it is no phone number
-- (+1 takes ten digits), so no look-up of a real number finds it.
-- Erases the personal data older than `cutoff`, which must be at least the retention
-- period ago (a later cutoff is refused: the service cannot erase recent evidence):
--   * audit events about a number: the number and the details;
--   * do-not-call entries that stopped blocking before it (removed, or expired: those
--     still marked active are closed, as a change like any other, and erased at the next
--     run): the number becomes the erased marker, the free texts go; an entry that still
--     blocks is never touched;
--   * consents (migration 0031, read here when the function runs) withdrawn or expired
--     before it: the number becomes the erased marker, the evidence and free texts go; a
--     consent that still counts is never touched;
--   * which registry numbers each generation that went live before it added and removed;
--   * the rejected lines (40 characters of a file, numbers) of imports that ended before it.
-- History then starts at the cutoff. The run is recorded in the audit log. Several
-- replicas may call it: one runs at a time, the others return {"skipped": true}.
CREATE FUNCTION erase_expired_evidence(cutoff timestamptz) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    kept interval := (SELECT p.retention FROM evidence_policy p);
    latest_allowed timestamptz := now() - kept;
    events bigint;
    closed bigint := 0;
    closed_now bigint[];
    entries bigint;
    consents_erased bigint;
    chunks bigint;
    rejects bigint;
    v bigint;
    result jsonb;
BEGIN
    IF cutoff IS NULL OR cutoff > latest_allowed THEN
        RAISE EXCEPTION 'evidence younger than the retention period (%) may not be erased: '
                        'cutoff % is after %', kept, cutoff, latest_allowed
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT pg_try_advisory_xact_lock(31346, 25974) THEN
        RETURN jsonb_build_object('skipped', true);
    END IF;

    UPDATE audit_log SET number = NULL, details = '{"erased": "retention"}'::jsonb
     WHERE at < cutoff AND number IS NOT NULL;
    GET DIAGNOSTICS events = ROW_COUNT;

    -- Entries closed now keep their number until the next run: snapshots drop a closed
    -- entry by the number it blocked, so it must still be there when they read the change.
    IF EXISTS (SELECT 1 FROM dnc_entries WHERE active AND expires_at < cutoff) THEN
        UPDATE data_version SET version = version + 1 RETURNING version INTO v;
        WITH c AS (
            UPDATE dnc_entries
               SET active = false, deactivated_at = now(),
                   deactivation_reason = 'expired before the retention period', version = v
             WHERE active AND expires_at < cutoff
            RETURNING id
        )
        SELECT array_agg(id) INTO closed_now FROM c;
        closed := cardinality(closed_now);
        PERFORM pg_notify('tarcza_changes', v::text);
    END IF;
    UPDATE dnc_entries
       SET number = 1000000, reason = NULL, source = NULL, note = NULL,
           deactivation_reason = 'erased after the retention period'
     WHERE NOT active AND number <> 1000000
       AND (deactivated_at < cutoff OR expires_at < cutoff)
       AND NOT (id = ANY (coalesce(closed_now, '{}')));
    GET DIAGNOSTICS entries = ROW_COUNT;

    -- Snapshots look consents up by number and only valid ones count, so an erased one
    -- needs no announcement: it counted for nothing any more.
    UPDATE consents
       SET number = 1000000, evidence = 'erased ' || id, source = 'erased', note = NULL,
           withdrawal_reason = CASE WHEN withdrawn_at IS NULL THEN NULL
                                    ELSE 'erased after the retention period' END
     WHERE number <> 1000000 AND (withdrawn_at < cutoff OR expires_at < cutoff);
    GET DIAGNOSTICS consents_erased = ROW_COUNT;

    WITH old AS (
        SELECT g.registry_id, g.generation
          FROM registry_generations g JOIN data_version_log l ON l.version = g.version
         WHERE l.committed_at < cutoff
    ), gone AS (
        DELETE FROM registry_changes c USING old
         WHERE c.registry_id = old.registry_id AND c.generation = old.generation
        RETURNING 1
    )
    SELECT count(*) INTO chunks FROM gone;
    UPDATE registry_generations g SET changes_recorded = false
      FROM data_version_log l
     WHERE l.version = g.version AND l.committed_at < cutoff AND g.changes_recorded;

    DELETE FROM import_rejects r USING imports i
     WHERE r.import_id = i.id AND i.finished_at < cutoff;
    GET DIAGNOSTICS rejects = ROW_COUNT;

    UPDATE history_floor SET since = greatest(since, cutoff);

    result := jsonb_build_object(
        'cutoff', cutoff, 'retention', kept::text, 'audit_events', events,
        'dnc_entries', entries, 'dnc_entries_closed', closed, 'consents', consents_erased,
        'registry_change_chunks', chunks, 'import_rejects', rejects);
    INSERT INTO audit_log (action, subject, details) VALUES ('evidence.erase', 'retention', result);
    RETURN result;
END;
$$;
REVOKE ALL ON FUNCTION erase_expired_evidence(timestamptz) FROM PUBLIC;
