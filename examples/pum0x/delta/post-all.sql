-- Runs last in every upgrade: the views come back on the upgraded tables (valves exist
-- from 1.1.0 on; an upgrade may stop before, with -u).
DO $$
BEGIN
    IF to_regclass('net.valve') IS NULL THEN
        CREATE VIEW net.vw_pipe AS
            SELECT p.id, p.material, 0::bigint AS valves FROM net.pipe p;
    ELSE
        CREATE VIEW net.vw_pipe AS
            SELECT p.id, p.material, count(v.id) AS valves
            FROM net.pipe p LEFT JOIN net.valve v ON v.pipe_id = p.id
            GROUP BY p.id, p.material;
    END IF;
END
$$;
