"""Scheduled jobs (expiry, temporary zones, publication, feeds, purge, reminders) and their scheduler."""
