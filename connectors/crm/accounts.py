"""The account a customer belongs to and its owner, from whichever source knows: the one shape the
runbooks see, whether the answer came from Salesforce or from the policy's static map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Account:
    """A customer account and the person who owns it (the account manager)."""

    id: str
    name: str
    owner_email: str | None
    owner_name: str | None = None
    website: str | None = None
    source: str = "salesforce"
    """Where the answer came from (`salesforce`, `policy`), for the internal note and the audit trail."""


class AccountLookup(Protocol):
    def find_account(self, *, email: str | None = None, organization: str | None = None) -> Account | None:
        """The account of the customer with this email (by its domain) or of this organization name."""
        ...


def email_domain(email: str | None) -> str | None:
    """`acme.com` for `jane@Acme.com`; None for anything that is not an address."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


def website_matches(website: str | None, domain: str) -> bool:
    """Whether a free-text Website (`http://www.acme.com/`, `acme.com`, `shop.acme.com`) is `domain`'s:
    the host is the domain or one of its subdomains, never a name that merely contains it."""
    if not website:
        return False
    text = website.strip().lower()
    host = (urlsplit(text if "//" in text else f"//{text}").hostname or "").rstrip(".")
    return host == domain or host.endswith(f".{domain}")


class StaticAccounts:
    """The policy's `crm.account_managers` map (customer domain or organization name → email)."""

    def __init__(self, managers: Mapping[str, str]) -> None:
        self.managers = {k.lower(): v for k, v in managers.items()}

    def find_account(self, *, email: str | None = None, organization: str | None = None) -> Account | None:
        for key in (email_domain(email), (organization or "").strip().lower()):
            if key and key in self.managers:
                return Account(id=key, name=organization or key, owner_email=self.managers[key], source="policy")
        return None


class FirstAnswer:
    """Asks each source in turn; the first that knows the account (with an owner's email) answers."""

    def __init__(self, sources: Sequence[AccountLookup]) -> None:
        self.sources = list(sources)

    def find_account(self, *, email: str | None = None, organization: str | None = None) -> Account | None:
        for source in self.sources:
            account = source.find_account(email=email, organization=organization)
            if account is not None and account.owner_email:
                return account
        return None
