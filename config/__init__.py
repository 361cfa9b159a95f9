"""Settings and logging: everything the service reads from its environment."""
