"""Historical analysis of the archive: its tables, the named queries, a local engine, backfills and
the run report. Not part of the job (nothing here is in the MSF zip)."""
