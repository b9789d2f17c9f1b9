-- Client-bound keys (issue 15, point 2): a key may be bound to one client, and
-- optionally to campaigns of it. Its checks are evaluated for that client whatever the
-- request says, it adds entries only in that client's scope (global ones only with
-- may_block_global), sees only that client's data (and global entries) and removes
-- nothing. A bound key is a dialer or an agent: the routes of ops and admin keys (keys,
-- registries, policies, audit, history, removals) are no business of one client's CRM.
-- Names compare like DNC scopes (scope_key, migration 0004); a key without a client is
-- unbound, as every key made before this migration.
ALTER TABLE api_keys
    ADD COLUMN client           text CONSTRAINT api_keys_client_length
                                     CHECK (client IS NULL OR length(client) BETWEEN 1 AND 200),
    ADD COLUMN campaigns        text[]  NOT NULL DEFAULT '{}'
                                     CONSTRAINT api_keys_campaigns_count CHECK (cardinality(campaigns) <= 100),
    ADD COLUMN may_block_global boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT api_keys_binding_needs_client
        CHECK (client IS NOT NULL OR (cardinality(campaigns) = 0 AND NOT may_block_global)),
    ADD CONSTRAINT api_keys_bound_role
        CHECK (client IS NULL OR role IN ('dialer', 'agent'));
