"""Every write to the domain. Each service locks its project row first, records one
activity event per change in the same transaction, and publishes after commit."""
