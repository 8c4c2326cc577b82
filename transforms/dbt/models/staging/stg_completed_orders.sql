-- Cross-engine read: completed orders from the SQLMesh model staging.stg_orders.
select
    order_id,
    customer_id,
    order_date,
    amount
from {{ source('sqlmesh_staging', 'stg_orders') }}
where status = 'completed'
