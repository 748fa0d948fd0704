"""The command line: typer commands, thin (parse arguments, call one function, print)."""
