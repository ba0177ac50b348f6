"""Running the pipeline for a service or a job: the scoring queue, note ingest into the record,
semantic search, file batches and the distributed backfill."""
