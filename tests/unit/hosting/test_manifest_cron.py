"""manifest.json "cron": what a deploy accepts, and the refusals that name the entry."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fazt.hosting.manifest import MAX_CRON_JOBS, CronJob, InvalidManifest, parse


def manifest(*jobs) -> str:
    return json.dumps({"cron": list(jobs)})


def test_jobs_with_and_without_names():
    m = parse(
        manifest(
            {"schedule": "*/5  * * * *", "path": "/api/tick"},
            {"name": "feed", "schedule": "@hourly", "path": "/api/feed/refresh"},
            {"schedule": "0 3 * * *", "path": "/api/feed/refresh"},
        )
    )
    assert m.cron == (
        CronJob("tick", "*/5 * * * *", "/api/tick"),
        CronJob("feed", "@hourly", "/api/feed/refresh"),
        CronJob("feed-refresh", "0 3 * * *", "/api/feed/refresh"),
    )
    assert parse(m.to_json()) == m
    assert parse("{}").cron == ()


@pytest.mark.parametrize(
    ("jobs", "says"),
    [
        ({"schedule": "* * *", "path": "/api/x"}, "cron[0] ('x'): bad schedule '* * *': "),
        ({"name": "n", "schedule": "61 * * * *", "path": "/api/x"}, "cron[0] ('n'): bad schedule"),
        ({"name": "n", "schedule": 5, "path": "/api/x"}, "cron[0] ('n'): 'schedule' must be"),
        ({"schedule": "@daily"}, "cron[0]: 'path' must be"),
        ({"schedule": "@daily", "path": "api/x"}, "'path' must be"),
        ({"schedule": "@daily", "path": "/api/../x"}, "'path' must be"),
        ({"schedule": "@daily", "path": "/api/x?a=1"}, "'path' must be"),
        ({"schedule": "@daily", "path": "/api/x", "name": "a b"}, "'name' must be"),
        ({"schedule": "@daily", "path": "/api/x", "every": 5}, 'expected {"name"?'),
        ("@daily", 'expected {"name"?'),
    ],
)
def test_bad_entries_are_refused_naming_the_entry(jobs, says):
    with pytest.raises(InvalidManifest, match=r"manifest\.json: cron") as refused:
        parse(manifest(jobs))
    assert says in str(refused.value)


def test_duplicate_names_and_too_many_jobs_are_refused():
    job = {"schedule": "@daily", "path": "/api/x"}
    with pytest.raises(InvalidManifest, match=r"cron\[1\]: a second job named 'x'"):
        parse(manifest(job, job))
    many = [{**job, "name": f"j{i}"} for i in range(MAX_CRON_JOBS + 1)]
    with pytest.raises(InvalidManifest, match=f"at most {MAX_CRON_JOBS} cron jobs"):
        parse(manifest(*many))
    with pytest.raises(InvalidManifest, match="'cron' must be a list"):
        parse(json.dumps({"cron": {"schedule": "@daily"}}))


entries = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=8) | st.integers(),
        "schedule": st.sampled_from(["* * * * *", "@daily", "bad", "1-5/2 * * jan-mar MON"])
        | st.text(max_size=15),
        "path": st.sampled_from(["/api/x", "/x/", "/api//x", "x"]) | st.text(max_size=10),
    },
)


@given(st.lists(entries, max_size=4) | st.text(max_size=5) | st.integers())
def test_any_cron_value_gives_jobs_or_invalid_manifest(value):
    try:
        m = parse(json.dumps({"cron": value}))
    except InvalidManifest:
        return
    assert parse(m.to_json()) == m
    assert len({job.name for job in m.cron}) == len(m.cron)
