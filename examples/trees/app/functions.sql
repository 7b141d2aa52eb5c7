-- The application: functions the views and the forms use.
CREATE FUNCTION trees_app.species_name(species_id integer) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT CASE {lang} WHEN 'fr' THEN name_fr WHEN 'de' THEN name_de ELSE name_en END
          FROM trees_vl.species WHERE id = species_id $$;
COMMENT ON FUNCTION trees_app.species_name(integer) IS 'The species'' name in the application''s language';
