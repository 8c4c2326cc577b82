MODEL (
  name raw.raw_orders,
  owner 'data-platform',
  kind SEED (
    path '../../seeds/orders.csv'
  ),
  columns (
    order_id INTEGER,
    customer_id INTEGER,
    order_date DATE,
    amount DECIMAL(10, 2),
    status TEXT
  ),
  grain order_id,
  description 'Order extract landed by the ingestion job (seed).'
);
