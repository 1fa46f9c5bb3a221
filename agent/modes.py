"""The agent's modes, importable without the graph (the CLI's flag parsers use them)."""

MODES: tuple[str, ...] = ("auto", "pad", "socratic", "asp", "spatial", "prolog", "direct")
