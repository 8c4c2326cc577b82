-- Cross-engine read: customers scored by SQLMesh (staging.customer_enhanced).
select
    customer_id,
    customer_name,
    customer_tier,
    customer_score
from {{ source('sqlmesh_staging', 'customer_enhanced') }}
