-- One row per customer: score plus completed-order totals (0 when none).
with customers as (
    select * from {{ ref('stg_customers') }}
),

orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(amount) as total_amount,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from {{ ref('stg_completed_orders') }}
    group by customer_id
)

select
    c.customer_id,
    c.customer_name,
    c.customer_tier,
    c.customer_score,
    coalesce(o.order_count, 0) as order_count,
    cast(coalesce(o.total_amount, 0) as decimal(18, 2)) as total_amount,
    o.first_order_date,
    o.last_order_date
from customers as c
left join orders as o
    on o.customer_id = c.customer_id
