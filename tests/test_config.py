"""Configuration: defaults, YAML, environment overrides, proxies, and errors that name the key."""

import random

import pytest

from monitor.errors import ConfigError
from monitor.net import is_private_host, mask_url
from monitor.settings import load_settings, masked_dump
from tests.helpers.proc import cli


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_protect_the_four_soundcloud_hosts_and_alert_to_log():
    s = load_settings(env={})
    assert [d.domain for d in s.protected_domains] == [
        "soundcloud.com",
        "www.soundcloud.com",
        "m.soundcloud.com",
        "api-v2.soundcloud.com",
    ]
    assert s.alerts.channels == []
    assert s.http.proxy is None and not s.http.allow_private_networks


def test_yaml_file_and_env_override(tmp_path):
    p = write(tmp_path, "http:\n  timeout_seconds: 5\n  listen: 0.0.0.0:9999\nstorage:\n  data_dir: /tmp/x\n")
    s = load_settings(p, env={"SCRAPEWATCH_HTTP__TIMEOUT_SECONDS": "7"})
    assert s.http.timeout_seconds == 7  # environment beats the file
    assert s.http.listen_port == 9999  # the rest of the file's section survives
    assert str(s.storage.database_path) == "/tmp/x/scrapewatch.db"


def test_config_file_from_environment(tmp_path):
    p = write(tmp_path, "protected_domains:\n  - domain: example.org\n    interval_seconds: 60\n")
    s = load_settings(env={"SCRAPEWATCH_CONFIG": str(p)})
    assert [(d.domain, d.interval_seconds) for d in s.protected_domains] == [("example.org", 60)]


def test_env_json_for_lists():
    s = load_settings(env={"SCRAPEWATCH_PROTECTED_DOMAINS": '[{"domain": "soundcloud.invalid"}]'})
    assert s.protected_domains[0].domain == "soundcloud.invalid"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("http:\n  timeout_seconds: abc\n", "http.timeout_seconds", "valid number"),
        ("http:\n  bogus: 1\n", "http.bogus", "Extra inputs"),
        ("nonsense: 1\n", "nonsense", "Extra inputs"),
        ("protected_domains:\n  - domain: https://soundcloud.com/\n", "protected_domains[0].domain", "host name"),
        ("protected_domains:\n  - domain: a.com\n    files: [humans.txt]\n", "protected_domains[0].files", "unknown"),
        ("protected_domains:\n  - domain: a.com\n  - domain: a.com\n", "(root)", "twice"),
        ("http:\n  listen: nope\n", "http.listen", "host:port"),
        ("http:\n  proxy: ftp://x\n", "http.proxy", "proxy URL"),
        ("http: [1, 2\n", "(yaml)", "line"),
        ("- a\n- b\n", "(root)", "mapping"),
    ],
)
def test_errors_name_the_key(tmp_path, text, key, reason):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env={})
    assert any(k == key and reason in r for k, r in info.value.errors), info.value.errors


def test_every_error_is_reported_not_just_the_first(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, "http:\n  timeout_seconds: x\n  retries: -1\n  bogus: 2\n"), env={})
    assert {k for k, _ in info.value.errors} == {"http.timeout_seconds", "http.retries", "http.bogus"}


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_bad_env_value_names_the_variable():
    with pytest.raises(ConfigError) as info:
        load_settings(env={"SCRAPEWATCH_HTTP__TIMEOUT_SECONDS": "soon"})
    assert info.value.errors[0][0] == "http.timeout_seconds"


def test_standard_proxy_variables_and_no_proxy():
    s = load_settings(env={"HTTPS_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "internal.example,.corp"})
    assert s.http.proxy == "http://127.0.0.1:3128"
    assert s.http.proxy_for("https://soundcloud.com/robots.txt") == "http://127.0.0.1:3128"
    assert s.http.proxy_for("https://a.internal.example/") is None
    assert s.http.proxy_for("https://x.corp/") is None
    lower = load_settings(env={"http_proxy": "http://127.0.0.1:8080"})
    assert lower.http.proxy == "http://127.0.0.1:8080"


def test_config_key_beats_proxy_variables(tmp_path):
    p = write(tmp_path, "http:\n  proxy: http://127.0.0.1:9000\n")
    assert load_settings(p, env={"HTTPS_PROXY": "http://127.0.0.1:1"}).http.proxy == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("url", "hidden", "kept"),
    [
        ("slack://T000/B000/XXXXSECRET", "XXXXSECRET", "slack://"),
        ("http://user:hunter2@proxy:3128", "hunter2", "proxy:3128"),
        ("json://hooks.example/path?token=abc123", "abc123", "json://"),
        ("mailtos://alice:pw@smtp.example", "pw", "mailtos://"),
        ("https://hooks.example/x?sig=deadbeef&a=1", "deadbeef", "a=1"),
    ],
)
def test_mask_url(url, hidden, kept):
    masked = mask_url(url)
    assert hidden not in masked and kept in masked


def test_masked_dump_hides_channel_urls(tmp_path):
    p = write(tmp_path, "alerts:\n  channels:\n    - name: t\n      url: pagerduty://SECRETKEY@service\n")
    dumped = masked_dump(load_settings(p, env={}))
    assert "SECRETKEY" not in str(dumped)


@pytest.mark.parametrize(
    ("host", "private"),
    [("127.0.0.1", True), ("10.1.2.3", True), ("169.254.169.254", True), ("[::1]", True), ("192.168.0.1", True),
     ("fd00::1", True), ("localhost", True), ("8.8.8.8", False), ("soundcloud.com", False)],
)  # fmt: skip
def test_is_private_host(host, private):
    assert is_private_host(host) is private


def test_policy_expectation_must_name_known_path_classes(tmp_path):
    p = write(tmp_path, "policy:\n  expect:\n    disallowed_on: [track, podcasts]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={})
    assert any(k == "policy" and "podcasts" in r for k, r in info.value.errors), info.value.errors


def test_policy_path_samples_must_be_paths(tmp_path):
    p = write(tmp_path, "policy:\n  path_classes:\n    track: ['https://soundcloud.com/x']\n")
    with pytest.raises(ConfigError) as info:
        load_settings(p, env={})
    assert info.value.errors[0][0] == "policy.path_classes"


# ---- any file content, value size and nesting depth: exit 2 with a message, never a traceback -----------------


def _laughs(levels: int = 20) -> bytes:
    """Each anchor aliases the previous one ten times: 10^levels references from a few hundred bytes."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


LAUGHS = _laughs()
HOSTILE_FILES = {
    "binary": (bytes(random.Random(4).randbytes(3000)), "not UTF-8 text"),
    "latin-1": ("http:\n  user_agent: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 on line 2)"),
    "5001-digit integer": (b"http:\n  timeout_seconds: " + b"9" * 5001 + b"\n", "an integer of 5001 characters"),
    "5000-deep flow sequence": (b"storage: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested more than 50 levels"),
    "1000-deep block mappings": (
        "".join(f"{' ' * i}k:\n" for i in range(1000)).encode(),
        "nested more than 50 levels",
    ),
    "over 1 MiB": (b"http:\n  user_agent: " + b"a" * (1024 * 1024) + b"\n", "larger than 1024 KiB"),
    "a number as a section name": (b"1: x\n", "a section name must be text"),
    # "billion laughs": 20 levels of anchors, each aliasing the previous one ten times (10^20 references).
    "nested aliases": (LAUGHS, "more than 100 aliases"),
    "an infinite timeout": (b"http:\n  timeout_seconds: 1e999999\n", "http.timeout_seconds"),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_config_files_are_exit_2_with_a_message(tmp_path, name):
    content, reason = HOSTILE_FILES[name]
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    out = cli("config", "check", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 2, out.stderr[-2000:]
    assert out.stderr.startswith(f"error: invalid configuration in {cfg}:"), out.stderr[-2000:]
    assert reason in out.stderr and "Traceback" not in out.stderr


def test_run_refuses_a_hostile_config_file_the_same_way(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"storage: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n")
    out = cli("run", "--once", "--config", str(cfg), cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "nested more than 50 levels" in out.stderr and "Traceback" not in out.stderr


def test_a_few_anchors_and_aliases_still_load(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "x-site: &site {max_depth: 1, max_pages: 5}\n"
        "watch:\n  targets:\n"
        "    - {name: a, start_urls: ['https://a.example/'], <<: *site}\n"
        "    - {name: b, start_urls: ['https://b.example/'], <<: *site}\n"
    )
    with pytest.raises(ConfigError) as err:  # the helper key is not a section; the aliases themselves were fine
        load_settings(cfg, env={})
    assert "more than 100 aliases" not in str(err.value) and "x-site" in str(err.value)


def test_nesting_and_numbers_within_the_limits_still_load(tmp_path):
    # 49 levels of nesting parse (the value is then refused by validation, not by the loader).
    deep = tmp_path / "deep.yaml"
    deep.write_text("storage: " + "[" * 48 + "]" * 48 + "\n")
    with pytest.raises(ConfigError) as err:
        load_settings(deep)
    assert "nested" not in str(err.value) and "storage" in str(err.value)
    # A 4,000-digit integer is a number (then too large for the setting), not a loader error.
    long = tmp_path / "long.yaml"
    long.write_text("http:\n  retries: 1" + "0" * 3999 + "\n")
    with pytest.raises(ConfigError, match=r"http\.retries") as err:
        load_settings(long)
    assert "too long" not in str(err.value)


def test_a_deeply_nested_environment_value_is_a_config_error():
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(env={"SCRAPEWATCH_PROTECTED_DOMAINS": "[" * 5000 + "]" * 5000})
