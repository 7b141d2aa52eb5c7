INSERT INTO shop.customer (name) VALUES ('Ada'), ('Grace');
