"""The dashboard's record log, story search, dead-letter kinds and who resolved them, and
the rate-limit waits of a flow's last run, over real HTTP against a daemon."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from flow_data import customer, order, product
from helpers import fail
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import config, free_port, start, stop, wait_for

HOSTILE = "<script>alert('x')</script>"


def test_a_support_person_finds_an_order_its_story_payloads_and_what_resolved_it(
    tmp_path: Path,
) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        # a hostile name, and a record that carries a credential of ihost's own
        buyer = customer("c-1", "anna@example.com", first_name=HOSTILE, company=erp.token)
        shop.seed(
            "orders",
            [
                order("1", "1001", customer_data=buyer),
                order("2", "1002", skus=("SKU-9",)),
                order("3", "1003"),
            ],
        )
        fail(erp, "orders", "3", 422, message="Debtor blocked")
        fail(erp, "orders", "1", 429)  # one rate-limit wait for the flows page
        port = free_port()
        process = start(config(tmp_path, shop, erp, "every 1h"), port)
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(lambda: httpx.get(f"{base}/api/flows").json()[0]["status"] == "failed")
            flows = httpx.get(base).text
            assert re.search(r"waited \d+\.\d s on rate limits", flows)
            (last,) = [f["last"] for f in httpx.get(f"{base}/api/flows").json()]
            assert last["rate_limit_wait"] > 0

            # "what happened to order 1001?" from the search box on every page
            assert 'action="/records"' in flows
            story = httpx.get(f"{base}/records", params={"q": "1001"}).text
            assert "What happened to 1001" in story and "created" in story
            assert "read from the source" in story and "the target answered" in story
            assert "anna@example.com" in story  # personal data here, behind the token
            assert HOSTILE not in story and "&lt;script&gt;" in story  # escaped, never run
            assert shop.token not in story and erp.token not in story
            api = httpx.get(f"{base}/api/records", params={"q": "1001"}).json()
            (entry,) = api["entries"]
            assert entry["order_ref"] == "1001" and entry["calls"][-1]["status"] in (200, 201)
            assert erp.token not in httpx.get(f"{base}/api/records", params={"q": "1001"}).text

            # dead letters by kind; the refused one's own words; resolved by hand, by whom
            refused = httpx.get(f"{base}/api/deadletters", params={"kind": "refused"}).json()
            invalid = httpx.get(f"{base}/api/deadletters", params={"kind": "invalid"}).json()
            assert [d["record_key"] for d in refused] == ["3"]
            assert [d["record_key"] for d in invalid] == ["2"]
            page = httpx.get(f"{base}/deadletters", params={"kind": "refused"}).text
            assert 'data-letter="{}"'.format(refused[0]["id"]) in page
            assert 'data-letter="{}"'.format(invalid[0]["id"]) not in page
            assert httpx.get(f"{base}/api/deadletters", params={"kind": "nope"}).status_code == 400
            # the filter form as a browser sends it, its empty fields included
            form = httpx.get(f"{base}/deadletters?flow=&status=open&kind=&older_than=")
            assert form.status_code == 200 and form.text.count("data-letter=") == 2
            for bad in ("abc", "-1", "nan"):
                answer = httpx.get(f"{base}/deadletters", params={"older_than": bad})
                assert answer.status_code == 400
            httpx.post(
                f"{base}/deadletters/bulk",
                content=f"action=resolve&id={refused[0]['id']}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            erp.seed("products", [product("SKU-9")])
            httpx.post(f"{base}/api/deadletters/{invalid[0]['id']}/retry")
            done = {
                d["record_key"]: d["resolved_by"]
                for d in httpx.get(f"{base}/api/deadletters", params={"status": "resolved"}).json()
            }
            assert done["3"] == "resolved by hand: the dashboard, from 127.0.0.1"
            assert done["2"].endswith("the record went through when it was retried")
            resolved = httpx.get(f"{base}/deadletters", params={"status": "resolved"}).text
            assert "resolved by hand: the dashboard, from 127.0.0.1" in resolved

            # order 1002's whole story: failed, its dead letter, then written on the retry
            story = httpx.get(f"{base}/records", params={"q": "1002"}).text
            kept, _, logged = story.partition('id="events"')
            assert re.findall(r'<td class="(failed|created)">', kept) == ["failed", "created"]
            assert "dead letter resolved: the record went through" in logged
            assert "SKU SKU-9 not found in erp" in story and "went through" in story
            # a run's page lists its records with their payloads
            run_id = httpx.get(f"{base}/api/records", params={"q": "1001"}).json()["entries"][0][
                "run_id"
            ]
            run = httpx.get(f"{base}/runs/{run_id}").text
            assert 'id="payloads"' in run and "read from the source" in run
        finally:
            stop(process)
