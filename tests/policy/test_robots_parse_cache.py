"""The robots.txt parse cache holds a whole crawl chunk: license discovery and the audit parse each file once."""

from __future__ import annotations

from monitor.evaluators import policy

BODIES = [f"User-agent: bot{i}\nDisallow: /{i}\n".encode() for i in range(700)]


def test_a_256_file_cache_parses_a_700_domain_chunk_twice():
    cache = policy._ParsedRobots(policy.ROBOTS_CACHE_MIN)
    first = [cache.get((200, b, False)) for b in BODIES]
    assert not any(cache.get((200, b, False)) is f for b, f in zip(BODIES, first, strict=True))


def test_the_parse_cache_grows_to_a_chunk_and_keeps_every_file_of_it():
    policy.robots_cache_at_least(1400)  # what run_many does for a 700-domain chunk
    first = [policy.robots_policy(200, b, False) for b in BODIES]
    again = [policy.robots_policy(200, b, False) for b in BODIES]
    assert all(a is b for a, b in zip(first, again, strict=True))  # parsed once each
    assert policy.robots_policy(404, BODIES[0], False) is not first[0]  # the status is part of the key
    assert first[3].state == policy.fetch_verdict(200, BODIES[3], too_many_redirects=False).state
    policy.robots_cache_at_least(10)
    assert policy._robots.size >= 1400  # never shrinks
