"""The `deskmail` subcommands, one module per group; `deskmail.cli` registers them."""
