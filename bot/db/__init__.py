"""The database layer: every table's model (`models`), the column types (`base`), the engine, sessions and
transactions (`session`: `transaction()` to write, `reading()` to read), Alembic at start (`migrate`) and
the one-line explanations of a database that refuses to start (`problems`).

It declares all the tables and writes none of them but Alembic's `alembic_version` (through `migrate`):
the services write the rest.
"""
