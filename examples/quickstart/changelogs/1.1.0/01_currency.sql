-- Prices get a currency; existing ones are in the configured one.
ALTER TABLE shop.product ADD COLUMN currency text NOT NULL DEFAULT {currency};
CREATE INDEX orders_customer ON shop.orders (customer_id);
