-- tarcza schema, version 1.
--
-- Every mutation bumps the single row of `data_version` inside its own transaction and
-- stamps the rows it touched with the new value. The row lock on `data_version` makes
-- versions commit in order, so a replica that has applied everything up to version V
-- catches up by reading the rows stamped > V (see src/index/refresh.rs).

CREATE TABLE data_version (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT data_version_singleton CHECK (singleton),
    version   bigint  NOT NULL
);
INSERT INTO data_version (singleton, version) VALUES (true, 1);

-- API keys. Only the SHA-256 of a key is stored; keys are 192-bit random tokens, so an
-- unsalted hash is enough (as for GitHub tokens) and lets a lookup be one hash probe.
CREATE TABLE api_keys (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL CONSTRAINT api_keys_name_length CHECK (length(name) BETWEEN 1 AND 200),
    role        text        NOT NULL CONSTRAINT api_keys_role_known CHECK (role IN ('dialer', 'agent', 'ops', 'admin')),
    key_hash    bytea       NOT NULL CONSTRAINT api_keys_key_hash_unique UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint      REFERENCES api_keys (id),
    revoked_at  timestamptz,
    revoked_by  bigint      REFERENCES api_keys (id),
    version     bigint      NOT NULL
);
CREATE INDEX api_keys_version_idx ON api_keys (version);

-- The internal do-not-call list. Rows are never deleted: a removal sets active = false and
-- records who, when and why. Scope: both client and campaign NULL = global; client only =
-- that client; campaign (with or without client) = that campaign.
CREATE TABLE dnc_entries (
    id                  bigserial   PRIMARY KEY,
    number              bigint      NOT NULL CONSTRAINT dnc_entries_number_e164 CHECK (number BETWEEN 1000000 AND 999999999999999),
    client              text        CONSTRAINT dnc_entries_client_length CHECK (length(client) BETWEEN 1 AND 200),
    campaign            text        CONSTRAINT dnc_entries_campaign_length CHECK (length(campaign) BETWEEN 1 AND 200),
    reason              text,
    source              text,
    note                text,
    expires_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    created_by          bigint      REFERENCES api_keys (id),
    active              boolean     NOT NULL DEFAULT true,
    deactivated_at      timestamptz,
    deactivated_by      bigint      REFERENCES api_keys (id),
    deactivation_reason text,
    version             bigint      NOT NULL,
    CONSTRAINT dnc_entries_deactivation_complete CHECK (active OR (deactivated_at IS NOT NULL AND deactivation_reason IS NOT NULL))
);
-- One active entry per number and scope; POST /v1/dnc relies on this to be idempotent.
CREATE UNIQUE INDEX dnc_entries_active_scope_unique
    ON dnc_entries (number, coalesce(client, ''), coalesce(campaign, '')) WHERE active;
CREATE INDEX dnc_entries_number_idx ON dnc_entries (number);
CREATE INDEX dnc_entries_version_idx ON dnc_entries (version);

-- Opt-out registries. The members of a registry live in a table of their own,
-- regdata_<generation>, made by the import that produced them; `generation` points at the
-- live one. A snapshot import builds a new table and swaps the pointer in one transaction.
CREATE TABLE registries (
    id             serial      PRIMARY KEY,
    name           text        NOT NULL CONSTRAINT registries_name_unique UNIQUE
                               CONSTRAINT registries_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    generation     bigint,
    entries        bigint      NOT NULL DEFAULT 0,
    loaded_at      timestamptz,
    source_time    timestamptz,
    last_import_id bigint,
    version        bigint      NOT NULL
);
INSERT INTO registries (name, version) VALUES ('robinson', 1);

CREATE TABLE imports (
    id             bigserial   PRIMARY KEY,
    registry_id    integer     NOT NULL REFERENCES registries (id),
    mode           text        NOT NULL CONSTRAINT imports_mode_known CHECK (mode IN ('snapshot', 'delta')),
    format         text        NOT NULL CONSTRAINT imports_format_known CHECK (format IN ('csv', 'sha256')),
    status         text        NOT NULL CONSTRAINT imports_status_known
                               CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'refused')),
    rows_total     bigint      NOT NULL DEFAULT 0,
    rows_accepted  bigint      NOT NULL DEFAULT 0,
    rows_rejected  bigint      NOT NULL DEFAULT 0,
    rows_duplicate bigint      NOT NULL DEFAULT 0,
    entries_before bigint,
    entries_after  bigint,
    bytes          bigint      NOT NULL DEFAULT 0,
    checksum       text,
    error          text,
    forced         boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    created_by     bigint      REFERENCES api_keys (id)
);
CREATE INDEX imports_registry_idx ON imports (registry_id, id DESC);
-- At most one unfinished import per registry.
CREATE UNIQUE INDEX imports_one_running_per_registry
    ON imports (registry_id) WHERE status IN ('pending', 'running');

CREATE TABLE import_rejects (
    import_id bigint  NOT NULL REFERENCES imports (id),
    line      bigint  NOT NULL,
    raw       text    NOT NULL,
    reason    text    NOT NULL,
    message   text    NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Append-only audit trail: who did what, when, and the state before and after.
CREATE TABLE audit_log (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     bigint      REFERENCES api_keys (id),
    action    text        NOT NULL,
    number    bigint,
    subject   text,
    details   jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_number_idx ON audit_log (number, at) WHERE number IS NOT NULL;

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
