CREATE TYPE shop.order_status AS ENUM ('open', 'paid', 'shipped');
ALTER TABLE shop.orders ADD COLUMN status shop.order_status NOT NULL DEFAULT 'open';
COMMENT ON COLUMN shop.orders.status IS 'where the order is in its life';
