"""GitHub: the API client, webhook intake, events, linking, subscriptions and the radar."""
