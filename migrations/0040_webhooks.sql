-- Signed webhooks (issue 13 point 4). The outbox is the change feed itself (0010): its
-- rows are written in the transaction of each change and ordered by (version, seq), so a
-- subscription is a cursor into it ("delivered through"), moved only after the receiver
-- answered 2xx. Nothing acknowledged can be missed, and there is no second copy of each
-- change to keep in step. Rows are changed in place (the serving role has no DELETE): a
-- deleted subscription keeps its row, without its secret.
CREATE TABLE webhooks (
    id                bigserial   CONSTRAINT webhooks_pkey PRIMARY KEY,
    url               text        NOT NULL CONSTRAINT webhooks_url_length CHECK (length(url) BETWEEN 1 AND 2000),
    events            text[]      NOT NULL CONSTRAINT webhooks_events_known
                                  CHECK (cardinality(events) >= 1
                                         AND events <@ ARRAY['dnc.add', 'dnc.extend', 'dnc.expire', 'dnc.remove', 'registry.import']),
    description       text        CONSTRAINT webhooks_description_length CHECK (length(description) BETWEEN 1 AND 500),
    -- The HMAC key, shown once at creation; NULL once the subscription is deleted.
    secret            text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        bigint      REFERENCES api_keys (id),
    deleted_at        timestamptz,
    deleted_by        bigint      REFERENCES api_keys (id),
    -- The last change delivered (or passed over: not one of `events`).
    delivered_version bigint      NOT NULL,
    delivered_seq     integer     NOT NULL,
    -- active: delivering or retrying within TARCZA_WEBHOOK_RETRY_FOR; failing: retrying
    -- for longer than that (still, at the longest backoff); expired: the feed's retention
    -- removed changes it had not delivered, so it stopped.
    state             text        NOT NULL DEFAULT 'active'
                                  CONSTRAINT webhooks_state_known CHECK (state IN ('active', 'failing', 'expired')),
    -- Failed attempts at the next change, since the first of them.
    attempts          integer     NOT NULL DEFAULT 0,
    failing_since     timestamptz,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text
);

-- Every attempt to deliver a change (kept as long as the change feed).
CREATE TABLE webhook_deliveries (
    id              bigserial   CONSTRAINT webhook_deliveries_pkey PRIMARY KEY,
    webhook_id      bigint      NOT NULL REFERENCES webhooks (id),
    event_version   bigint      NOT NULL,
    event_seq       integer     NOT NULL,
    attempt         integer     NOT NULL CONSTRAINT webhook_deliveries_attempt_positive CHECK (attempt >= 1),
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The receiver's status (NULL: no answer); `error` is NULL when it was a 2xx.
    status_code     integer,
    error           text,
    duration_ms     integer     NOT NULL,
    -- When the change is tried again (NULL: delivered).
    next_attempt_at timestamptz
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_at_idx ON webhook_deliveries (at);

-- Retention (0010's function, now also removing delivery records past `keep`).
CREATE OR REPLACE FUNCTION prune_change_history(keep interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
    horizon bigint;
    last_seq integer;
    removed bigint;
BEGIN
    IF keep < interval '7 days' THEN
        RAISE EXCEPTION 'change history is kept at least 7 days (asked: %)', keep;
    END IF;
    DELETE FROM webhook_deliveries WHERE at < now() - keep;
    -- Whole transactions go: the last one older than `keep`, and all before it.
    SELECT max(version) INTO horizon FROM changes WHERE at < now() - keep;
    IF horizon IS NULL THEN
        RETURN 0;
    END IF;
    SELECT max(seq) INTO last_seq FROM changes WHERE version = horizon;
    DELETE FROM changes WHERE version <= horizon;
    GET DIAGNOSTICS removed = ROW_COUNT;
    UPDATE change_feed SET pruned_version = horizon, pruned_seq = last_seq
     WHERE (pruned_version, pruned_seq) < (horizon, last_seq);
    RETURN removed;
END;
$$;
REVOKE ALL ON FUNCTION prune_change_history(interval) FROM PUBLIC;
