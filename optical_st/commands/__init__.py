"""One module per ``optical-st`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``."""
