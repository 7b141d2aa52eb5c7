-- a fixture that fails on its third line
CREATE TABLE fixture_ok (id int);
INSERT INTO nowhere VALUES (1);
