CREATE TYPE trees_od.health AS ENUM ('good', 'fair', 'poor');
CREATE TABLE trees_od.tree (
    id serial PRIMARY KEY,
    species_id integer NOT NULL REFERENCES trees_vl.species (id),
    planted date,
    health trees_od.health NOT NULL DEFAULT 'good',
    x numeric(10, 2) NOT NULL,
    y numeric(10, 2) NOT NULL,
    srid integer NOT NULL DEFAULT {SRID} CHECK (srid = {SRID})
);
COMMENT ON TABLE trees_od.tree IS 'A tree of the inventory';
