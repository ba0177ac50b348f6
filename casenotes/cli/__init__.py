"""The `casenotes` command: thin over library calls (`casenotes.cli.main:app`)."""
