"""Message content: sandboxed templates, unsubscribe links and headers."""
