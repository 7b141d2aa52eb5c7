-- Like shop_reference.sql, but orders.qty defaults to 2 and has no note.
CREATE SCHEMA shop;
CREATE TABLE shop.customer (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.orders (
  id serial PRIMARY KEY,
  qty integer NOT NULL DEFAULT 2,
  customer_id integer NOT NULL REFERENCES shop.customer (id),
  srid integer NOT NULL DEFAULT 2056
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
