"""The HTTP service. So far: the Event Grid webhook and one-click unsubscribe (more to come)."""
