"""Alembic environment: the app passes its own connection in `config.attributes`."""

from alembic import context
from sqlalchemy import create_engine

from classrec.web.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # command-line use: alembic -x url=... upgrade head
    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
