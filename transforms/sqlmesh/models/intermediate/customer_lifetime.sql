MODEL (
  name intermediate.customer_lifetime,
  owner 'data-platform',
  kind FULL,
  grain customer_id,
  columns (
    customer_id INTEGER,
    first_order_date DATE,
    last_order_date DATE,
    completed_orders BIGINT,
    lifetime_value DECIMAL(18, 2)
  ),
  audits (
    not_null(columns := (customer_id, completed_orders, lifetime_value)),
    unique_values(columns := (customer_id))
  ),
  description 'Lifetime order statistics per scored customer (customers without orders get 0).'
);

SELECT
  c.customer_id::INTEGER AS customer_id,
  MIN(o.order_date)::DATE AS first_order_date,
  MAX(o.order_date)::DATE AS last_order_date,
  COUNT(o.order_id) FILTER(WHERE o.status = 'completed')::BIGINT AS completed_orders,
  COALESCE(SUM(o.amount) FILTER(WHERE o.status = 'completed'), 0)::DECIMAL(18, 2) AS lifetime_value
FROM staging.customer_enhanced AS c
LEFT JOIN staging.stg_orders AS o
  ON o.customer_id = c.customer_id
GROUP BY
  c.customer_id
