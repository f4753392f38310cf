"""Operations: backups, restores and metrics."""
