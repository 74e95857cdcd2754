"""The bad-input catalogue against a monolith and a split deployment, V1 and V2: every case gets its status and a
message naming the problem, valid edge cases are answered, and good requests sent meanwhile stay correct."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.bad_inputs import ACCEPTED, REFUSED, SPEECH, Case, encoded
from tests.servers import Server, SplitDeployment

GOLEMS = ("scribe", "interpreter", "oracle")


@pytest.fixture(scope="module")
def deployments(monolith: Server) -> Iterator[dict[str, dict[str, str]]]:
    """deployment → model → base URL that serves it; the monolith is the session's default server (conftest)."""
    split = SplitDeployment()
    try:
        split.wait_ready()
        yield {"monolith": {m: monolith.url for m in (*GOLEMS, "pipeline", "nosuchmodel")},
               "split": {**{g: split.golems[g].url for g in GOLEMS}, "pipeline": split.transformer.url,
                         "nosuchmodel": split.transformer.url}}
    finally:
        split.stop()


def send(base: str, case: Case, timeout: float = 120) -> httpx.Response:
    path = f"/v1/models/{case.model}:predict" if case.protocol == "v1" else f"/v2/models/{case.model}/infer"
    return httpx.post(base + path, content=encoded(case), headers={"content-type": "application/json"},
                      timeout=timeout)


def _check(response: httpx.Response, case: Case) -> None:
    assert response.status_code == case.status, (case.name, response.text[:300])
    assert case.fragment in response.text, (case.name, response.text[:300])


@pytest.mark.parametrize("deployment", ["monolith", "split"])
@pytest.mark.parametrize("case", REFUSED + ACCEPTED, ids=lambda c: c.name)
def test_case(deployments: dict[str, dict[str, str]], deployment: str, case: Case) -> None:
    _check(send(deployments[deployment][case.model], case), case)


def test_injection_cannot_forge_prompt_lines(deployments: dict[str, dict[str, str]]) -> None:
    case = next(c for c in ACCEPTED if c.name == "prompt injection")
    [reply] = send(deployments["monolith"]["oracle"], case).json()["predictions"]
    assert "HACKED" not in reply["text"] and "\n" not in reply["text"]


@pytest.mark.parametrize("deployment", ["monolith", "split"])
def test_good_requests_stay_correct_during_the_bad_ones(deployments: dict[str, dict[str, str]],
                                                        deployment: str) -> None:
    good = Case("good", "pipeline", "v1", {"instances": [{"audio": SPEECH}]}, 200, "weather")
    jobs = [good] * 6 + REFUSED
    urls = deployments[deployment]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda c: (c, send(urls[c.model], c)), jobs))
    for case, response in responses:
        _check(response, case)
    answers = [r.json()["predictions"][0] for c, r in responses if c is good]
    assert len(answers) == 6
    assert all(a["status"] == "ok" and a["intent"]["label"] == "weather" and a["reply"] for a in answers)
