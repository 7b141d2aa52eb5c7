CREATE DOMAIN trees_od.metres AS numeric(5, 2) CHECK (VALUE >= 0);
ALTER TABLE trees_od.tree ADD COLUMN height trees_od.metres;
CREATE TABLE trees_od.inspection (
    id serial PRIMARY KEY,
    tree_id integer NOT NULL REFERENCES trees_od.tree (id) ON DELETE CASCADE,
    inspected_on date NOT NULL DEFAULT current_date,
    health trees_od.health NOT NULL,
    note text
);
CREATE INDEX inspection_tree_idx ON trees_od.inspection (tree_id);
