"""helpdesk-bot: takes the repetitive work of a Zendesk or JSM support desk off its agents."""

__version__ = "0.1.0"
