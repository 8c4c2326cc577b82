MODEL (
  name staging.stg_orders,
  owner 'data-platform',
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column order_date
  ),
  cron '@daily',
  grain order_id,
  columns (
    order_id INTEGER,
    customer_id INTEGER,
    order_date DATE,
    amount DECIMAL(10, 2),
    status TEXT
  ),
  audits (
    not_null(columns := (order_id, customer_id))
  ),
  description 'Typed, cleaned orders, loaded one day interval at a time.'
);

SELECT
  order_id::INTEGER AS order_id,
  customer_id::INTEGER AS customer_id,
  order_date::DATE AS order_date,
  amount::DECIMAL(10, 2) AS amount,
  LOWER(TRIM(status))::TEXT AS status
FROM raw.raw_orders
WHERE
  order_date BETWEEN @start_ds AND @end_ds
