-- Sign-in sessions of the web console (issue 12). They live here, not in a process, so
-- they survive a restart and every replica knows them.
--
-- The cookie holds a random 256-bit id; only its SHA-256 is stored, so a copy of this
-- table signs no one in. `key_hash` is the SHA-256 of the API key the session was opened
-- with (as in api_keys.key_hash): every request looks it up in the in-memory snapshot of
-- live keys, so a revoked key (or a bootstrap key given a new secret) ends its sessions at
-- once. A session unused for TARCZA_CONSOLE_IDLE_TIMEOUT has ended.
--
-- The serving role may not DELETE (see store/roles.rs), so a session is never erased:
-- ending it (sign-out, its key revoked, found idle) sets `ended_at` and `ended_why`, and
-- an ended row never becomes live again. A row is about a hundred bytes per sign-in.
CREATE TABLE console_sessions (
    id_hash      bytea       PRIMARY KEY CONSTRAINT console_sessions_id_hash_length CHECK (length(id_hash) = 32),
    key_id       bigint      NOT NULL REFERENCES api_keys (id),
    key_hash     bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    ended_why    text CONSTRAINT console_sessions_ended_why
        CHECK (ended_why IN ('signed_out', 'revoked', 'idle')),
    CONSTRAINT console_sessions_ended_together CHECK ((ended_at IS NULL) = (ended_why IS NULL))
);
