"""skills.edit_block."""
