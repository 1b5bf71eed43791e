"""Rate limits on the API's routes, counted with `limits` per client or user, per window."""
