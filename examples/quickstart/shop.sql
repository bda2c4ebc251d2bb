-- A small shop: the quick start database. Rebuild shop.db from this file with
-- examples/quickstart/build.sh; a test checks that shop.db and this script agree.

PRAGMA foreign_keys = ON;

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    email      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    in_stock    INTEGER NOT NULL DEFAULT 0 CHECK (in_stock >= 0)
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    status      TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'paid', 'shipped', 'cancelled')),
    placed_at   TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE order_items (
    order_id    INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id  INTEGER NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
) WITHOUT ROWID;

CREATE INDEX orders_by_customer ON orders (customer_id, placed_at);

-- What each order is worth.
CREATE VIEW order_totals AS
    SELECT o.id AS order_id, o.customer_id, o.status,
           sum(i.quantity * i.price_cents) AS total_cents
    FROM orders o
    JOIN order_items i ON i.order_id = o.id
    GROUP BY o.id;

-- Selling an item takes it out of stock.
CREATE TRIGGER order_items_take_stock AFTER INSERT ON order_items
BEGIN
    UPDATE products SET in_stock = in_stock - NEW.quantity WHERE id = NEW.product_id;
END;

INSERT INTO customers (email, name, created_at) VALUES
    ('ada@example.com', 'Ada Lovelace', '2024-01-05 09:30:00'),
    ('grace@example.com', 'Grace Hopper', '2024-02-11 14:02:00'),
    ('edsger@example.com', 'Edsger Dijkstra', '2024-03-20 08:15:00');

INSERT INTO products (sku, name, price_cents, in_stock) VALUES
    ('MUG-01', 'Enamel mug', 1200, 40),
    ('TEE-M', 'T-shirt, size M', 2500, 25),
    ('NOTE-A5', 'A5 notebook', 800, 100);

INSERT INTO orders (customer_id, status, placed_at) VALUES
    (1, 'paid', '2024-04-01 10:00:00'),
    (2, 'open', '2024-04-02 16:45:00');

INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES
    (1, 1, 2, 1200),
    (1, 3, 1, 800),
    (2, 2, 1, 2500);
