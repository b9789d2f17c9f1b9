-- Point-in-time history: what /v1/check would have answered at any instant since history
-- began, and why (GET /v1/history; src/history/).
--
-- Every answer is decided on one data version (the snapshot version /check reports), so
-- history needs: when each version was committed; each do-not-call entry's state at each
-- version; and which registry generation was live at each version, with the numbers
-- each generation added and removed. The serving role only reads the first two (they
-- are written by triggers running as the owner) and only appends to the last two (the
-- import writes them in its swap transaction); see store::roles.

-- When each data version was committed. The trigger is deferred to COMMIT, so the time
-- is that of the commit (as close as PostgreSQL lets us get), not of the statement; the
-- row lock on data_version makes versions commit in order, so times grow with versions.
CREATE TABLE data_version_log (
    version      bigint      PRIMARY KEY,
    committed_at timestamptz NOT NULL
);
CREATE INDEX data_version_log_committed_idx ON data_version_log (committed_at);

CREATE FUNCTION log_data_version() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO data_version_log (version, committed_at)
    VALUES (NEW.version, clock_timestamp())
    ON CONFLICT (version) DO NOTHING;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION log_data_version() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER data_version_logged
    AFTER UPDATE ON data_version DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION log_data_version();

-- Each do-not-call entry's state (what decides whether it blocks) from the version that
-- set it on. Rows are written by triggers for every writer of dnc_entries, including
-- ones added later; a writer stamps the row with its data version, as every writer must
-- for snapshots to see the change.
CREATE TABLE dnc_entry_states (
    entry_id   bigint      NOT NULL,
    version    bigint      NOT NULL,
    active     boolean     NOT NULL,
    expires_at timestamptz,
    CONSTRAINT dnc_entry_states_pkey PRIMARY KEY (entry_id, version)
);

CREATE FUNCTION record_dnc_entry_state() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO dnc_entry_states (entry_id, version, active, expires_at)
    VALUES (NEW.id, NEW.version, NEW.active, NEW.expires_at)
    ON CONFLICT ON CONSTRAINT dnc_entry_states_pkey
        DO UPDATE SET active = EXCLUDED.active, expires_at = EXCLUDED.expires_at;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION record_dnc_entry_state() FROM PUBLIC;
-- New entries, once per statement: a bulk sync inserts a million at a time.
CREATE FUNCTION record_added_dnc_entry_states() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO dnc_entry_states (entry_id, version, active, expires_at)
    SELECT id, version, active, expires_at FROM added;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION record_added_dnc_entry_states() FROM PUBLIC;
CREATE TRIGGER dnc_entry_state_added
    AFTER INSERT ON dnc_entries REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION record_added_dnc_entry_states();
CREATE TRIGGER dnc_entry_state_changed
    AFTER UPDATE ON dnc_entries
    FOR EACH ROW
    WHEN (OLD.active IS DISTINCT FROM NEW.active OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
    EXECUTE FUNCTION record_dnc_entry_state();

-- Every generation of a registry's members that went live: the import that wrote it,
-- the data version of the swap and the generation it replaced.
CREATE TABLE registry_generations (
    registry_id      integer NOT NULL REFERENCES registries (id),
    generation       bigint  NOT NULL,
    version          bigint  NOT NULL,
    previous         bigint,
    hash_scheme      text,
    entries          bigint  NOT NULL,
    added            bigint  NOT NULL,
    removed          bigint  NOT NULL,
    -- Whether the members of `previous` can be told from this generation's changes:
    -- false for the generations live when history began (nothing before them is known).
    changes_recorded boolean NOT NULL,
    CONSTRAINT registry_generations_pkey PRIMARY KEY (registry_id, generation)
);
CREATE INDEX registry_generations_version_idx ON registry_generations (registry_id, version);

-- The numbers (keys) a generation added to the registry and those it removed, compared
-- with the generation it replaced: storage follows churn, not size. Keys are cut into
-- ascending chunks of at most 1024; `first_key`/`last_key` bound a chunk in an
-- order-preserving signed form of the 64-bit key (its top bit flipped) and `keys` holds
-- the rest as LEB128 gaps (see store::history). When the hash scheme changes, every old
-- key is removed and every new one added.
CREATE TABLE registry_changes (
    registry_id integer NOT NULL,
    generation  bigint  NOT NULL,
    removed     boolean NOT NULL,
    first_key   bigint  NOT NULL,
    last_key    bigint  NOT NULL,
    count       integer NOT NULL,
    keys        bytea   NOT NULL,
    CONSTRAINT registry_changes_generation_fk FOREIGN KEY (registry_id, generation)
        REFERENCES registry_generations (registry_id, generation)
);
CREATE INDEX registry_changes_lookup_idx ON registry_changes (registry_id, generation, removed, first_key);

-- History starts now: nothing before this instant can be answered (retention moves it
-- forward as it erases).
CREATE TABLE history_floor (
    singleton boolean     PRIMARY KEY DEFAULT true CONSTRAINT history_floor_singleton CHECK (singleton),
    since     timestamptz NOT NULL
);
INSERT INTO history_floor (singleton, since) VALUES (true, now());

-- What was there when history began: the current version, every entry's current state,
-- each registry's live generation (what came before it is not known).
INSERT INTO data_version_log (version, committed_at) SELECT version, now() FROM data_version;
INSERT INTO dnc_entry_states (entry_id, version, active, expires_at)
    SELECT id, version, active, expires_at FROM dnc_entries;
INSERT INTO registry_generations (registry_id, generation, version, previous, hash_scheme,
                                  entries, added, removed, changes_recorded)
    SELECT id, generation, version, NULL, hash_scheme, entries, 0, 0, false
      FROM registries WHERE generation IS NOT NULL;
