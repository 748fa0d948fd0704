"""CLI command groups, one module per job; `wanflow.cli` registers them all."""
