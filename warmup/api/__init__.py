"""The HTTP service. For now: the Event Grid webhook (the rest of the API is its own issue)."""
