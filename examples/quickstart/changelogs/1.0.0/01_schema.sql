CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE shop.customer (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.product (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2) NOT NULL);
CREATE TABLE shop.orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES shop.customer (id),
  product_id integer NOT NULL REFERENCES shop.product (id),
  qty integer NOT NULL DEFAULT 1
);
