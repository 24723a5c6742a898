"""Users' verdicts on answers, kept in SQLite or PostgreSQL: the store, the service's hold on it, and their words."""
