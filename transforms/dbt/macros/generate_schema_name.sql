{#-
  Every model is written to the target schema exactly (analytics_dev, analytics).
  A custom `schema` config is ignored on purpose, so the provider always knows
  where the dbt relations live.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}
