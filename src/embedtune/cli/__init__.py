"""The ``embedtune`` command: one file per subcommand, each a thin wrapper over a library function."""
