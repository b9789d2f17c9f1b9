-- Imports you can watch. While an import runs, its row carries how far it has got: the
-- counts it already has (bytes, rows_total, rows_accepted, rows_rejected) are written as
-- the file is read, about once a second, so every replica's API shows them. Added here:
-- the size of the file when it is known in advance (Content-Length, the file's size), so
-- a fraction can be shown; what the import is doing now; and when progress was last
-- written (a running import whose progress_at stops moving has stalled).
ALTER TABLE imports
    ADD COLUMN bytes_expected bigint
        CONSTRAINT imports_bytes_expected_not_negative CHECK (bytes_expected >= 0),
    ADD COLUMN phase text
        CONSTRAINT imports_phase_known CHECK (phase IN ('reading', 'comparing', 'writing')),
    ADD COLUMN progress_at timestamptz;
