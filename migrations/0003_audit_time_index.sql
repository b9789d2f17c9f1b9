-- GET /v1/audit reads the log by time range without a number, newest first.
CREATE INDEX audit_log_at_idx ON audit_log (at);
