-- The network model at version 1.0.0: what a database holds before pum manages it.
CREATE SCHEMA net;
CREATE SCHEMA net_sys;
CREATE TABLE net.pipe (
    id serial PRIMARY KEY,
    material text NOT NULL,
    diameter int CHECK (diameter > 0)
);
INSERT INTO net.pipe (material, diameter) VALUES ('cast iron', 150), ('PE', 90), ('steel', 200);
