"""The configuration-change runbook's gather step: the customer's account manager, from the CRM and the desk.

Only for tickets the pure decision would hand over (`bot.policy.config_change.skip_reason`): the account
(Salesforce by email domain or organization name, then the policy's map, `Runtime.accounts`), then the
desk user with the owner's email, never created (an account manager without a desk account is reported,
not invented). Reads only, so a dry run asks the same questions and writes nothing.
"""

from __future__ import annotations

from typing import Any

from bot.policy.config_change import customer, skip_reason
from bot.policy.runbook import Situation
from tasks.runtime import Runtime


def gather(runtime: Runtime, situation: Situation, *, dry_run: bool) -> dict[str, Any]:
    if skip_reason(situation) is not None:
        return {}
    who = customer(situation.ticket, situation.policy)
    account = runtime.accounts.find_account(email=who.email, organization=who.organization)
    if account is None or not account.owner_email:
        return {"account": account}
    manager = runtime.desk(situation.desk).find_person(account.owner_email)
    return {"account": account, "manager": manager}
