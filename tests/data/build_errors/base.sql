-- a base file that fails on its third line
CREATE TABLE base_ok (id int);
SELEC 1;
