"""Puts a valve on every large pipe (a pum 0.x Python delta)."""

import psycopg2
from pum.core.deltapy import DeltaPy


class Valves(DeltaPy):
    def run(self):
        min_diameter = self.variables.get("valve_diameter", 100)
        conn = psycopg2.connect("service={}".format(self.pg_service))
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO net.valve (pipe_id) SELECT id FROM net.pipe WHERE diameter >= %s",
            (min_diameter,),
        )
        self.write_message("{} valve(s) on pipes of {} mm and more".format(cur.rowcount, min_diameter))
        conn.commit()
        conn.close()
