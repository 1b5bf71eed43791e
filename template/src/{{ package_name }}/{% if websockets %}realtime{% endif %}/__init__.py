"""Real-time channels over WebSocket: `/api/v1/ws`, its JSON protocol, and the broker that
fans messages out to every connection subscribed to a channel."""
