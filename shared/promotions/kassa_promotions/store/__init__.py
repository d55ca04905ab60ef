"""The promotions store: campaigns, codes and redemptions, persisted on PostgreSQL or SQLite."""
