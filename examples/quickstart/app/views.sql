CREATE VIEW shop.order_totals AS
  SELECT o.id, c.name AS customer, o.qty * p.price AS total
  FROM shop.orders o
  JOIN shop.customer c ON c.id = o.customer_id
  JOIN shop.product p ON p.id = o.product_id;
