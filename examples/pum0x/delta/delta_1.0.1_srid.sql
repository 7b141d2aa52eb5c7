-- The coordinate system of the geometries, given when upgrading: -v int srid 2056
ALTER TABLE net.pipe ADD COLUMN srid int NOT NULL DEFAULT %(srid)s;
