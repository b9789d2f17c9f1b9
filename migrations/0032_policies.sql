-- Policies (issue 15): whether a client, or one campaign of a client, requires a valid
-- consent (for a purpose) before a number may be called. A campaign's row overrides its
-- client's. Rows are changed in place (the serving role has no DELETE); every change is
-- in the audit log (`policy.set`) with the policy before and after.
CREATE TABLE policies (
    id               bigserial   PRIMARY KEY,
    client           text        NOT NULL CONSTRAINT policies_client_length CHECK (length(client) BETWEEN 1 AND 200),
    client_key       text        GENERATED ALWAYS AS (scope_key(client)) STORED,
    campaign         text        CONSTRAINT policies_campaign_length CHECK (length(campaign) BETWEEN 1 AND 200),
    campaign_key     text        GENERATED ALWAYS AS (scope_key(campaign)) STORED,
    consent_required boolean     NOT NULL,
    purpose          text        NOT NULL CONSTRAINT policies_purpose_format CHECK (purpose ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       bigint      REFERENCES api_keys (id),
    version          bigint      NOT NULL
);
CREATE UNIQUE INDEX policies_scope_unique ON policies (client_key, coalesce(campaign_key, ''));
CREATE INDEX policies_version_idx ON policies (version);
