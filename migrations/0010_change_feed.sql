-- The change feed: every change to the do-not-call list and every registry import going
-- live, in commit order, with the expiries it has recorded and its retention.

-- Every change to the do-not-call list and every registry import going live, written in
-- the transaction that makes it. `version` is the data version that transaction took
-- (store::bump_version: its row lock makes versions commit in order) and `seq` the
-- change's place within the transaction, so (version, seq) is commit order: the feed's
-- cursor and each webhook's "delivered through" are built on it, never on a serial id
-- (two transactions can commit out of id order, and a reader would skip the lower one).
-- Append-only for the service (INSERT without `at`); rows older than the retention are
-- removed by prune_change_history() below, which only the owner's code may do.
CREATE TABLE changes (
    version     bigint      NOT NULL,
    seq         integer     NOT NULL CONSTRAINT changes_seq_positive CHECK (seq >= 0),
    -- The time of the statement that wrote it, taken after the version lock: in step
    -- with `version`, unlike now() (a long transaction's start).
    at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    action      text        NOT NULL CONSTRAINT changes_action_known
                            CHECK (action IN ('dnc.add', 'dnc.extend', 'dnc.expire', 'dnc.remove', 'registry.import')),
    -- The entry's number, or its prefix's digits when `prefix` (a range block).
    number      bigint,
    prefix      boolean     NOT NULL DEFAULT false,
    entry_id    bigint,
    client      text,
    campaign    text,
    reason      text,
    source      text,
    external_id text,
    expires_at  timestamptz,
    actor       bigint,
    registry    text,
    import_id   bigint,
    entries     bigint,
    CONSTRAINT changes_pkey PRIMARY KEY (version, seq)
);

-- What the feed keeps: the last change removed by retention (a cursor below it may have
-- missed changes), and the time through which expiries are recorded.
CREATE TABLE change_feed (
    singleton        boolean     PRIMARY KEY DEFAULT true CONSTRAINT change_feed_singleton CHECK (singleton),
    pruned_version   bigint      NOT NULL DEFAULT 0,
    pruned_seq       integer     NOT NULL DEFAULT 0,
    expiries_through timestamptz NOT NULL
);
-- Entries that expired before this migration stopped blocking before the feed existed.
INSERT INTO change_feed (singleton, expiries_through) VALUES (true, now());

-- Entries whose expiry the feed has recorded (one `dnc.expire` change each). An expired
-- entry is never extended (a re-add closes it and makes a new one), so once is enough.
CREATE TABLE dnc_expiries (
    entry_id bigint NOT NULL CONSTRAINT dnc_expiries_pkey PRIMARY KEY REFERENCES dnc_entries (id),
    version  bigint NOT NULL
);
CREATE INDEX dnc_entries_expires_idx ON dnc_entries (expires_at) WHERE expires_at IS NOT NULL;

-- The CRM's own id for a flag, kept with the entry it made (bulk sync, drift apply).
ALTER TABLE dnc_entries
    ADD COLUMN external_id text CONSTRAINT dnc_entries_external_id_length CHECK (length(external_id) BETWEEN 1 AND 200);

-- Retention. The serving role may not DELETE (README "Database roles"), so removing old
-- feed rows is this one function, owned by the schema's owner and run with its rights:
-- it removes only what is older than `keep` (at least a week), so the service cannot use
-- it to make a reader miss a recent change. Only the serving role may call it (granted
-- at start-up).
CREATE FUNCTION prune_change_history(keep interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    horizon bigint;
    last_seq integer;
    removed bigint;
BEGIN
    IF keep < interval '7 days' THEN
        RAISE EXCEPTION 'change history is kept at least 7 days (asked: %)', keep;
    END IF;
    -- Whole transactions go: the last one older than `keep`, and all before it.
    SELECT max(version) INTO horizon FROM changes WHERE at < now() - keep;
    IF horizon IS NULL THEN
        RETURN 0;
    END IF;
    SELECT max(seq) INTO last_seq FROM changes WHERE version = horizon;
    DELETE FROM changes WHERE version <= horizon;
    GET DIAGNOSTICS removed = ROW_COUNT;
    UPDATE change_feed SET pruned_version = horizon, pruned_seq = last_seq
     WHERE (pruned_version, pruned_seq) < (horizon, last_seq);
    RETURN removed;
END;
$$;
REVOKE ALL ON FUNCTION prune_change_history(interval) FROM PUBLIC;
