CREATE TABLE pyhook (id int);
