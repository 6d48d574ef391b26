"""PostgreSQL adapter: pool, migrations, unit of work, repositories and outbox.

psycopg types stay inside this package; every public method returns domain
objects and raises domain errors.
"""
