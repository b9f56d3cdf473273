"""Events: the transactional outbox of every file, upload and bucket change, and its cursor."""
