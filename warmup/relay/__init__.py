"""The SMTP relay: apps and devices submit mail that goes out through the domain's ramp."""
