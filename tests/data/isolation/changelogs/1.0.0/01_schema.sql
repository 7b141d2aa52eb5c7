-- The project of the transaction isolation tests (tests/it/isolation.rs), theirs alone:
-- no other test shares its template.
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE shop.customer (id serial PRIMARY KEY, name text NOT NULL);
