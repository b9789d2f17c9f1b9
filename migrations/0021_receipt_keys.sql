-- The public halves of the keys that sign decision receipts (the private halves are in a
-- file or the environment, never here), so every receipt ever issued stays verifiable
-- after a key is replaced, whichever replica signed it (GET /v1/receipts/keys).
--
-- A key's id is derived from it (the first 8 bytes of its SHA-256, hex), so no id can be
-- made to name another key. It was in use from `first_used_at` (set by the database when
-- the key is registered) to about `last_used_at` (the signing process moves it forward at
-- most once a minute while it signs). The serving role may register a key and move
-- `last_used_at` forward, nothing else (store::roles): it cannot backdate a key or swap
-- one.
CREATE TABLE receipt_keys (
    id            text        PRIMARY KEY,
    algorithm     text        NOT NULL DEFAULT 'Ed25519'
                              CONSTRAINT receipt_keys_algorithm_known CHECK (algorithm = 'Ed25519'),
    public_key    bytea       NOT NULL CONSTRAINT receipt_keys_public_key_unique UNIQUE,
    first_used_at timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT receipt_keys_public_key_length CHECK (length(public_key) = 32),
    CONSTRAINT receipt_keys_id_of_key CHECK (id = left(encode(sha256(public_key), 'hex'), 16))
);

-- last_used_at only moves forward, and never past the present.
CREATE FUNCTION receipt_keys_last_used_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_used_at := greatest(OLD.last_used_at, least(NEW.last_used_at, now()));
    RETURN NEW;
END;
$$;
CREATE TRIGGER receipt_keys_last_used_forward
    BEFORE UPDATE ON receipt_keys
    FOR EACH ROW EXECUTE FUNCTION receipt_keys_last_used_forward();
