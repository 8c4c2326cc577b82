-- Value band per customer from the SQLMesh lifetime model: a cross-engine ref()
-- (the dbt_dualengine plugin resolves it to the SQLMesh view of this environment).
select
    c.customer_id,
    c.customer_tier,
    l.lifetime_value,
    case
        when l.lifetime_value >= 1000 then 'high'
        when l.lifetime_value >= 300 then 'medium'
        else 'low'
    end as value_band
from {{ ref('stg_customers') }} as c
inner join {{ ref('intermediate.customer_lifetime') }} as l
    on l.customer_id = c.customer_id
