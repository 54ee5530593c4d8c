"""The one :class:`~sqlalchemy.MetaData` every table module registers on.

Its naming convention gives every index, unique constraint, foreign key and primary key
a stable name, the one the migrations use. Import the tables from their modules, and
the complete schema (with Alembic's filter) from :mod:`paperfeed.store.schema`.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
