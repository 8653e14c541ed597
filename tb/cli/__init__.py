"""The `reram-accel` command line: thin adapters over golden, hw, tb and boards."""
