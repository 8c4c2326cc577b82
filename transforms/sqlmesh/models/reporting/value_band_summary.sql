MODEL (
  name reporting.value_band_summary,
  owner 'data-platform',
  kind FULL,
  grain value_band,
  columns (
    value_band TEXT,
    customers BIGINT,
    lifetime_value DECIMAL(18, 2)
  ),
  audits (
    not_null(columns := (value_band, customers)),
    unique_values(columns := (value_band))
  ),
  description 'Customers and lifetime value per value band, read back from the dbt mart customer_value (a SQLMesh model downstream of dbt).'
);

SELECT
  v.value_band::TEXT AS value_band,
  COUNT(*)::BIGINT AS customers,
  SUM(v.lifetime_value)::DECIMAL(18, 2) AS lifetime_value
FROM @dbt_model(customer_value) AS v
GROUP BY
  v.value_band
