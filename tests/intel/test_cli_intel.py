"""``scrapewatch intel lookup`` against the simulated DNS and RDAP: text and JSON, and a failed lookup's exit."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from monitor.cli.root import main


def config(tmp_path, intel_settings, **intel):
    path = tmp_path / "c.yml"
    section = {"nameservers": intel_settings.intel.nameservers, "rdap_bootstrap": intel_settings.intel.rdap_bootstrap,
               "rdap_delay_seconds": 0, "dns_timeout_seconds": 2, **intel}  # fmt: skip
    path.write_text(yaml.safe_dump({"http": {"proxy": intel_settings.http.proxy}, "intel": section}))
    return str(path)


def test_lookup_prints_the_abuse_contacts(tmp_path, intel_settings):
    result = CliRunner().invoke(
        main, ["intel", "lookup", "www.sc2mp3-fast.example", "--config", config(tmp_path, intel_settings)]
    )
    assert result.exit_code == 0, result.output
    assert "Offshore Names Ltd. (abuse: abuse@offshore-names.example" in result.output
    assert "abuse abuse@shadyhost.example" in result.output and "sha256 " in result.output


def test_lookup_json_and_a_vanished_domain(tmp_path, intel_settings):
    path = config(tmp_path, intel_settings)
    result = CliRunner().invoke(main, ["intel", "lookup", "gone.example", "--json", "--config", path])
    assert result.exit_code == 1
    facts = json.loads(result.stdout)
    assert facts["dns"]["error"].startswith("nxdomain:") and "incomplete:" in result.stderr
