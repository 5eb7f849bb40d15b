"""The helpers every test folder shares: real repositories, programs, servers, fake LLMs."""
