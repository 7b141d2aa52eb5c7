-- a reference file that fails on its third line
CREATE TABLE reference_ok (id int);
CREATE VIEW v AS SELECT nothing_here FROM reference_ok;
