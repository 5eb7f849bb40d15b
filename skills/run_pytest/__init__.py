"""skills.run_pytest."""
