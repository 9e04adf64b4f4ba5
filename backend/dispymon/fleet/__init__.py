"""The fleet: programs publish their dashboard's events to Redis Streams, centrals read them (docs/fleet.md)."""
