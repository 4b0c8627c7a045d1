"""Feed ingestion: WhoScored live scores into the database, Fonbet odds into storage."""
