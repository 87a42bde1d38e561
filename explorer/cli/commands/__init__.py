"""One module per `explorer` subcommand (discovered by explorer.cli)."""
