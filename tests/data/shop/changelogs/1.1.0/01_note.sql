ALTER TABLE shop.orders ADD COLUMN note text;
CREATE INDEX orders_customer ON shop.orders (customer_id);
