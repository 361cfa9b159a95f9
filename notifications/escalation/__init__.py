"""The escalation tick and its command line: the channel side of the ladder."""
