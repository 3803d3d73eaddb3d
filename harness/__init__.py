"""Worlds to run warmup in, shared by the tests and the benchmarks (never shipped): the local
ACS emulator's settings, fresh PostgreSQL schemas, seeded stores, real worker processes, a TCP
proxy to cut, the relay in its own process, the hot statements of a store."""
