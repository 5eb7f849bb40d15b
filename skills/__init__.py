"""Skills: what a plan step can do, and the guards every skill goes through."""
