-- The shop schema at 1.1.0, written by hand in another order.
CREATE SCHEMA shop;
CREATE TABLE shop.customer (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.orders (
  id serial PRIMARY KEY,
  note text,
  qty integer NOT NULL DEFAULT 1,
  customer_id integer NOT NULL REFERENCES shop.customer (id),
  srid integer NOT NULL DEFAULT 2056
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
