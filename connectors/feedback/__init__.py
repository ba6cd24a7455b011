"""Product feedback tools: where the feedback runbook records what customers ask for.

`aha.py` records a ticket's feedback as an idea in an Aha! product (REST v1), once per ticket;
`sandbox.py` is a stateful fake of the Aha! endpoints it uses, served by `helpdesk-bot sandbox`.
"""
