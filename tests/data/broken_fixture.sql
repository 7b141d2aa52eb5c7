-- A fixture that cannot run (tests of setup failures use it).
INSERT INTO shop.no_such_table VALUES (1);
