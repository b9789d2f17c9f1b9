-- Consents (issue 15): a person's documented permission for one client to call them for
-- one purpose (`marketing`, …), with the evidence that proves it (a recording id, a form
-- id). Under a client's or campaign's `consent_required` policy a number without a valid
-- consent is blocked, and a registry configured with CONSENT_EXEMPTS lets a valid consent
-- exempt the number from that registry's block, for that client only.
--
-- Rows are never deleted: a withdrawal sets withdrawn_at, withdrawn_by and the reason,
-- so what a consent was, and when it counted, can always be read back. The client compares
-- like DNC scopes (scope_key, migration 0004).
CREATE TABLE consents (
    id                bigserial   PRIMARY KEY,
    number            bigint      NOT NULL CONSTRAINT consents_number_e164 CHECK (number BETWEEN 1000000 AND 999999999999999),
    client            text        NOT NULL CONSTRAINT consents_client_length CHECK (length(client) BETWEEN 1 AND 200),
    client_key        text        GENERATED ALWAYS AS (scope_key(client)) STORED,
    purpose           text        NOT NULL CONSTRAINT consents_purpose_format CHECK (purpose ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    evidence          text        NOT NULL CONSTRAINT consents_evidence_length CHECK (length(evidence) BETWEEN 1 AND 500),
    source            text        NOT NULL CONSTRAINT consents_source_length CHECK (length(source) BETWEEN 1 AND 500),
    note              text,
    given_at          timestamptz NOT NULL,
    expires_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        bigint      REFERENCES api_keys (id),
    withdrawn_at      timestamptz,
    withdrawn_by      bigint      REFERENCES api_keys (id),
    withdrawal_reason text,
    version           bigint      NOT NULL,
    CONSTRAINT consents_expiry_after_given CHECK (expires_at IS NULL OR expires_at > given_at),
    CONSTRAINT consents_withdrawal_complete CHECK ((withdrawn_at IS NULL) = (withdrawal_reason IS NULL))
);
-- The same evidence for the same number, client and purpose is one consent: POST
-- /v1/consents relies on this to be idempotent.
CREATE UNIQUE INDEX consents_active_evidence_unique
    ON consents (number, client_key, purpose, evidence) WHERE withdrawn_at IS NULL;
CREATE INDEX consents_number_idx ON consents (number, id);
CREATE INDEX consents_client_idx ON consents (client_key, id);
CREATE INDEX consents_version_idx ON consents (version);
