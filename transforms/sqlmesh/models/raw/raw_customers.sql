MODEL (
  name raw.raw_customers,
  owner 'data-platform',
  kind SEED (
    path '../../seeds/customers.csv'
  ),
  columns (
    customer_id INTEGER,
    customer_name TEXT,
    signup_date DATE,
    country TEXT,
    customer_tier TEXT
  ),
  grain customer_id,
  description 'Customer extract landed by the ingestion job (seed).'
);
