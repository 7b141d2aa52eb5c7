"""Makes the application's views from the tables as they are (as pirogue does), so a
column added by a changelog appears in them without editing this file."""

from pum import HookBase


class Hook(HookBase):
    def run_hook(self, connection, lang):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'trees_od' AND table_name = 'tree'"
                " ORDER BY ordinal_position"
            )
            columns = [row[0] for row in cursor.fetchall()]
        selected = ", ".join("t.%s" % name for name in columns)
        self.execute(
            "CREATE VIEW trees_app.vw_tree AS SELECT " + selected + ","
            " trees_app.species_name(t.species_id) AS species, {lang}::text AS lang"
            " FROM trees_od.tree t"
        )
        self.execute("COMMENT ON VIEW trees_app.vw_tree IS 'Trees, in language " + lang + "'")
