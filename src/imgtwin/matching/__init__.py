"""Finding duplicates among scanned files: exact groups, near-duplicate search and grouping."""
