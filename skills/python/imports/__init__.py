"""The project's import graph: its packaging layout and the one module resolver, what each source
loads and changes at import time, what it reads at run time, and the graph over them."""
