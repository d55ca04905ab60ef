"""Test support that is not a fixture itself: processes and servers the fixtures start."""
