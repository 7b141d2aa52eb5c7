-- The network model at version 1.2.0, made from scratch: what an upgraded database must
-- equal (the comparison database of test-and-upgrade).
CREATE SCHEMA net;
CREATE SCHEMA net_sys;
CREATE TABLE net.pipe (
    id serial PRIMARY KEY,
    material text NOT NULL,
    diameter int CHECK (diameter > 0),
    srid int NOT NULL DEFAULT 2056,
    label text DEFAULT 'unnamed'
);
COMMENT ON COLUMN net.pipe.label IS 'free text, 100% optional';
CREATE TABLE net.valve (
    id serial PRIMARY KEY,
    pipe_id int NOT NULL,
    closed boolean NOT NULL DEFAULT false
);
ALTER TABLE net.valve ADD CONSTRAINT valve_pipe_fk FOREIGN KEY (pipe_id) REFERENCES net.pipe (id);
CREATE VIEW net.vw_pipe AS
    SELECT p.id, p.material, count(v.id) AS valves
    FROM net.pipe p LEFT JOIN net.valve v ON v.pipe_id = p.id
    GROUP BY p.id, p.material;
