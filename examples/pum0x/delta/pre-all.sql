-- Runs first in every upgrade: the application's views go, the deltas change the tables.
DROP VIEW IF EXISTS net.vw_pipe;
