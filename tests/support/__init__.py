"""Helpers shared by the tests that are not fixtures (the fixtures are in the conftest files): paths, servers,
fault hooks, fake services and checks that more than one test runs."""
