"""Transports: the only place llmplex does I/O."""
