"""The edit_block skill: a search/replace block found in a file (exactly, then
tolerantly) and applied."""
