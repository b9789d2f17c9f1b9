-- "The same file" means the same bytes read the same way. `reading` names everything
-- besides the bytes that decides which keys a file yields (format and hash scheme, mode,
-- encoding, default region, reader version; see import::reading). An import is taken
-- for unchanged only when both its checksum and its reading match those of the import
-- that produced the live data, and a scheduled sync makes a conditional request only
-- when its settings read the source as the live data was read. Imports recorded before
-- this column have none, so the first import after the upgrade is never taken for
-- unchanged.
ALTER TABLE imports ADD COLUMN reading text;
