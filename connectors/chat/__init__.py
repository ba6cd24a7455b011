"""Chat alerts: messages to Slack or Google Chat channels through their incoming webhooks.

`webhooks.py` posts (the payload shape follows the webhook URL: Slack's `/services/…`, Google Chat's
`/v1/spaces/…/messages`); `sandbox.py` stands in for both, records what it would have posted and lets
tests and demos read it back (`GET /_sandbox/chat/posts`).
"""
