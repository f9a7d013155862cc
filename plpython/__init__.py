"""Modules that run inside PostgreSQL as PL/Python bodies and are imported by the training code too.

They depend on the standard library only (the database's interpreter is not the host's), are
installed into ml.plpython_modules by the migrations, and are unit-tested on the host.
"""
