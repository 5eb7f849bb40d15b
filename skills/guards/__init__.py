"""skills.guards."""
