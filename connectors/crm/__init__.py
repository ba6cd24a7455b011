"""Customer records (CRM): who a customer's account manager is.

The configuration-change runbook hands a ticket to the owner of the customer's account. `accounts.py`
holds the typed answer and the lookup every source implements; `salesforce.py` asks Salesforce (SOQL
over simple-salesforce), `accounts.StaticAccounts` reads the policy's `crm.account_managers` map, and
`build` chains them so the policy map answers whenever Salesforce is not configured or knows nobody.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.crm.accounts import AccountLookup, FirstAnswer, StaticAccounts
from connectors.crm.salesforce import SalesforceAccounts, SalesforceConfig


def build(salesforce: SalesforceConfig | None, account_managers: Mapping[str, str]) -> AccountLookup:
    """Salesforce first when it is configured, then the policy's map (which alone answers otherwise)."""
    sources: list[AccountLookup] = [SalesforceAccounts(salesforce)] if salesforce else []
    return FirstAnswer([*sources, StaticAccounts(account_managers)])
