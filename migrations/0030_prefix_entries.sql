-- Range blocks (issue 15): a do-not-call entry may block a prefix instead of one number.
-- A prefix entry keeps its digits in `number` (country code first: +48 70 is 4870) with
-- `prefix` set, and has everything else of a number entry: scope, reason, expiry, audit,
-- idempotence (one active entry per prefix and scope) and removal. Country codes never
-- start with 0, so the digits' value says how many there are.
ALTER TABLE dnc_entries ADD COLUMN prefix boolean NOT NULL DEFAULT false;

ALTER TABLE dnc_entries DROP CONSTRAINT dnc_entries_number_e164;
ALTER TABLE dnc_entries ADD CONSTRAINT dnc_entries_number_e164 CHECK (
    number BETWEEN 1000000 AND 999999999999999
    OR (prefix AND number BETWEEN 1 AND 999999999999999));

-- A prefix and a number with the same digits are different entries.
DROP INDEX dnc_entries_active_scope_unique;
CREATE UNIQUE INDEX dnc_entries_active_scope_unique
    ON dnc_entries (number, prefix, coalesce(client_key, ''), coalesce(campaign_key, ''))
    WHERE active;
