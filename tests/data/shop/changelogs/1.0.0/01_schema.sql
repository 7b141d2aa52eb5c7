CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE shop.customer (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES shop.customer (id),
  qty integer NOT NULL DEFAULT 1,
  srid integer NOT NULL DEFAULT {SRID}
);
