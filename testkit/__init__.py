"""Helpers the tests and the benchmarks share; the bot never imports them."""
