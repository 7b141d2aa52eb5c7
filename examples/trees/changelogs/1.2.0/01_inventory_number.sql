CREATE SEQUENCE trees_od.inventory_number START 1000;
ALTER TABLE trees_od.tree ADD COLUMN inventory_no integer NOT NULL DEFAULT nextval('trees_od.inventory_number');
CREATE TYPE trees_od.position AS (x numeric, y numeric);
CREATE FUNCTION trees_od.age_in_years(planted date) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT extract(year FROM age(current_date, planted))::integer $$;
