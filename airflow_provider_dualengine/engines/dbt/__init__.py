"""dbt engine: manifest reading and compiling, Cosmos rendering."""
