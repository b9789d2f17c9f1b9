-- Registry data that stays current on its own: hashed lists, scheduled re-sync, and a
-- record of where each import came from.

-- The pre-image scheme of a hashed registry (NULL: the members are E.164 numbers). The
-- members of a hashed registry are the first 8 bytes of each SHA-256, big-endian, stored
-- bit-for-bit in the bigint column of its regdata table.
ALTER TABLE registries
    ADD COLUMN hash_scheme text CONSTRAINT registries_hash_scheme_known
        CHECK (hash_scheme IN ('e164_digits', 'e164_plus', 'national')),
    -- What the scheduled re-sync last fetched successfully, so an unchanged source is
    -- recognised without importing it again (conditional GET, file checksum).
    ADD COLUMN sync_etag          text,
    ADD COLUMN sync_last_modified text,
    ADD COLUMN sync_checksum      text;

ALTER TABLE imports
    -- 'upload' for a file sent to the API, else the configured source (URL or path).
    ADD COLUMN source      text NOT NULL DEFAULT 'upload',
    -- When the source says its data was produced (Last-Modified, file mtime), if known.
    ADD COLUMN source_time timestamptz,
    -- The data was already live (same checksum, or not modified): nothing was changed.
    ADD COLUMN unchanged   boolean NOT NULL DEFAULT false,
    ADD COLUMN hash_scheme text,
    ADD COLUMN encoding    text;
