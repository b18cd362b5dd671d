"""A FACTELEC demo database for the local stack, the tests and the benchmark: schema and generator."""
