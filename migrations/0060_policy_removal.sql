-- Removing a policy (DELETE /v1/policies/…): the serving role has no DELETE, and a
-- policy's history must stay readable, so a removal marks the row (who, when) instead of
-- deleting it; /check and the policy API ignore a removed row, and setting the policy
-- again brings the row back. Every removal is in the audit log (`policy.remove`).
ALTER TABLE policies
    ADD COLUMN removed_at timestamptz,
    ADD COLUMN removed_by bigint REFERENCES api_keys (id);
