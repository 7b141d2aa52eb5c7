ALTER TABLE trees_od.tree ADD COLUMN last_inspected_on date;
CREATE FUNCTION trees_od.note_inspection() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE trees_od.tree SET last_inspected_on = NEW.inspected_on, health = NEW.health
     WHERE id = NEW.tree_id;
    RETURN NEW;
END;
$$;
CREATE TRIGGER inspection_noted AFTER INSERT ON trees_od.inspection
    FOR EACH ROW EXECUTE FUNCTION trees_od.note_inspection();
