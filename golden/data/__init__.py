"""Shipped data sets (MNIST, device measurements) and their loaders; nothing is fetched at run time."""
