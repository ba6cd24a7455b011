"""The shared domain vocabulary: tickets, people, events, actions and desk errors.

It is the bottom layer: it imports nothing else of the project, and connectors, policy, tasks and the
entry points (web, CLI) all import it. `tests/test_layers.py` keeps it that way.
"""
