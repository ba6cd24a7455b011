"""Account managers from Salesforce: simple-salesforce against the Salesforce sandbox, over HTTP."""

from __future__ import annotations

import pytest
import requests

from bot.domain.errors import AuthError, RateLimited, Unavailable
from connectors.crm.accounts import FirstAnswer, StaticAccounts
from tests.connectors.crm.conftest import Org

QUERY = "GET /services/data/v<version>/query/"
MORE = "GET /services/data/v<version>/query/<cursor>"


def test_the_customer_s_domain_finds_the_account_and_its_owner_after_a_soap_login(org: Org) -> None:
    account = org.accounts().find_account(email="cathy@acme.test")
    assert account is not None
    assert (account.name, account.owner_email, account.owner_name) == ("Acme", "sam@example.com", "Sam Staff")
    assert (account.website, account.source) == ("https://www.acme.test", "salesforce")
    assert org.calls("POST /services/Soap/u/<version>") == 1 and org.calls(QUERY) == 1


def test_a_connected_app_logs_in_with_the_oauth_username_password_flow(org: Org) -> None:
    accounts = org.accounts(security_token=None, consumer_key="key", consumer_secret="secret")
    account = accounts.find_account(organization="Globex")
    assert account is not None and account.owner_email == "gina@example.com"
    assert org.calls("POST /services/oauth2/token") == 1 and org.calls("POST /services/Soap/u/<version>") == 0


def test_a_lookalike_website_is_not_the_customer_s_account(org: Org) -> None:
    """`Website LIKE '%acme.test%'` also finds notacme.test: only the host decides."""
    accounts = org.accounts()
    assert accounts.find_account(email="jane@acme.test").name == "Acme"  # type: ignore[union-attr]
    assert accounts.find_account(email="joe@notacme.test").name == "Acme Testing Lab"  # type: ignore[union-attr]
    assert accounts.find_account(email="x@cme.test") is None


def test_the_organization_name_is_used_when_the_domain_finds_nothing(org: Org) -> None:
    account = org.accounts().find_account(email="someone@gmail.test", organization="globex")
    assert account is not None and (account.name, account.owner_email) == ("Globex", "gina@example.com")


def test_an_account_without_owner_email_and_an_unknown_customer(org: Org) -> None:
    accounts = org.accounts()
    initech = accounts.find_account(organization="Initech")
    assert initech is not None and initech.owner_email is None
    assert accounts.find_account(email="who@nowhere.test", organization="Nobody Inc") is None
    assert accounts.find_account() is None and org.calls("POST /services/Soap/u/<version>") == 1


def test_values_are_escaped_in_the_soql(org: Org) -> None:
    owner = org.sandbox.add_user("Quinn Quote", "quinn@example.com")
    org.sandbox.add_account("O'Brien \\ Sons", "https://obrien.test", owner)
    org.sandbox.add_account("Wildcard", "https://abc.test", owner)
    accounts = org.accounts()
    found = accounts.find_account(organization="O'Brien \\ Sons")
    assert found is not None and found.owner_email == "quinn@example.com"
    assert accounts.find_account(email="x@a_c.test") is None  # `_` is not a LIKE wildcard here
    assert accounts.find_account(organization="x' OR Name != 'y") is None  # no injection


def test_every_page_is_read_through_next_records_url(org: Org) -> None:
    for n in range(5):
        org.sandbox.add_account(f"Acme Shop {n}", f"https://shop{n}.notacme.test", None)
    org.knob("page-size", {"size": 2})
    account = org.accounts().find_account(email="cathy@acme.test")
    assert account is not None and account.name == "Acme"
    assert org.calls(QUERY) == 1 and org.calls(MORE) == 3  # 7 accounts match the LIKE: pages of 2


def test_an_expired_session_is_renewed_by_logging_in_again(org: Org) -> None:
    accounts = org.accounts()
    assert accounts.find_account(organization="Acme") is not None
    org.knob("expire-sessions", {})
    assert accounts.find_account(organization="Acme") is not None
    assert org.calls("POST /services/Soap/u/<version>") == 2 and org.calls(QUERY) == 3


def test_a_refused_login_is_an_auth_error(org: Org) -> None:
    with pytest.raises(AuthError, match="INVALID_LOGIN"):
        org.accounts(username="nobody@example.com").find_account(organization="Acme")
    with pytest.raises(AuthError, match="invalid_grant"):
        org.accounts(
            username="nobody@example.com", security_token=None, consumer_key="k", consumer_secret="s"
        ).find_account(organization="Acme")


@pytest.mark.parametrize(
    ("status", "retry_after", "error", "wait"),
    [(403, None, RateLimited, 3600.0), (429, 7, RateLimited, 7.0), (503, None, Unavailable, None)],
)
def test_salesforce_s_errors_become_connector_errors(
    org: Org, status: int, retry_after: int | None, error: type[Exception], wait: float | None
) -> None:
    accounts = org.accounts()
    accounts.find_account(organization="Acme")  # logged in
    org.sandbox.control.fail_next(1, status, retry_after)
    with pytest.raises(error) as caught:
        accounts.find_account(organization="Acme")
    if wait is not None:
        assert caught.value.retry_after == wait  # type: ignore[attr-defined]


def test_an_unreachable_salesforce_is_unavailable() -> None:
    from connectors.crm.salesforce import SalesforceAccounts, SalesforceConfig

    accounts = SalesforceAccounts(SalesforceConfig("http://127.0.0.1:9", "bot@example.com", "p", "t", timeout=2))
    with pytest.raises(Unavailable):
        accounts.find_account(organization="Acme")


def test_the_policy_map_answers_when_salesforce_knows_no_owner(org: Org) -> None:
    lookup = FirstAnswer(
        [org.accounts(), StaticAccounts({"initech": "ian@example.com", "initech.test": "ivy@example.com"})]
    )
    assert lookup.find_account(email="bob@initech.test").owner_email == "ivy@example.com"  # type: ignore[union-attr]
    by_name = lookup.find_account(organization="Initech")
    assert by_name is not None and (by_name.owner_email, by_name.source) == ("ian@example.com", "policy")
    assert lookup.find_account(email="cathy@acme.test").source == "salesforce"  # type: ignore[union-attr]


def test_the_fake_speaks_salesforce_s_wire_format(org: Org) -> None:
    """401 is a JSON list (simple-salesforce reads `[0]["errorCode"]`); relationships are nested objects."""
    resp = requests.get(f"{org.url}/services/data/v59.0/query/", params={"q": "SELECT Id FROM Account"}, timeout=10)
    assert resp.status_code == 401 and resp.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    form = {"grant_type": "password", "client_id": "k", "client_secret": "s"}
    token = requests.post(
        f"{org.url}/services/oauth2/token", data={**form, "username": "bot@example.com", "password": "x"}, timeout=10
    ).json()
    assert token["instance_url"] == org.url and token["token_type"] == "Bearer"
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    soql = "SELECT Name, Owner.Email FROM Account WHERE Name = 'Acme'"
    body = requests.get(f"{org.url}/services/data/v59.0/query/", params={"q": soql}, headers=auth, timeout=10)
    assert body.headers["Sforce-Limit-Info"].startswith("api-usage=")
    [record] = body.json()["records"]
    assert record["Owner"]["Email"] == "sam@example.com" and record["Owner"]["attributes"]["type"] == "User"
    assert record["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Account/001")
    bad = requests.get(f"{org.url}/services/data/v59.0/query/", params={"q": "SELEC x"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"


def test_the_sandbox_server_serves_salesforce_beside_the_desks() -> None:
    from connectors.sandboxes import build

    app, fakes = build(seed=True)
    assert {"zendesk", "jira", "salesforce"} <= set(fakes)
    client = app.test_client()
    resp = client.post("/services/oauth2/token", data={"grant_type": "password", "client_id": "k"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_client_id"
