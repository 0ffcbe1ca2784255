# The echo distribution's own tests import the installed plugin: they run in a subprocess after
# an offline install (test_echo_conformance.py), not in llmplex's suite directly.
collect_ignore = ["llmplex_echo_dist"]
