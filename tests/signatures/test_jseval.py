"""Client ids and media URLs hidden in JavaScript (constants, properties, concatenation, templates, joins, atob,
fromCharCode) reach the signatures through the bounded evaluator; look-alike hex strings do not."""

from __future__ import annotations

import base64
import time

import pytest
from sig_helpers import TOKEN, by_id, scan_html, scan_script

from monitor.signatures import max_severity
from monitor.signatures.jseval import MAX_OUTPUT_CHARS, MAX_SCRIPT_BYTES, is_client_id_name, resolve_script

CID = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"
API = "https://api-v2.soundcloud.com"
B64 = base64.b64encode(f"{API}/resolve?url=x&client_id={CID}".encode()).decode()
CHARS = ",".join(str(ord(c)) for c in CID)

HIDDEN = {
    "constant": f'const CID = "{CID}"; const base = "{API}/resolve?url=" + encodeURIComponent(u);\n'
    'fetch(base + "&client_id=" + CID).then(r => r.json());',
    "property": f'const cfg = {{clientId: "{CID}", api: "{API}"}};\n'
    f'axios.get(cfg.api + "/resolve", {{params: {{url: u, client_id: cfg.clientId}}}});',
    "property-assigned": f'window.scKey = null; const o = {{}}; o.clientId = "{CID}";\n'
    f'fetch("{API}/resolve?" + new URLSearchParams({{url: u, client_id: o.clientId}}));',
    "url-search-params": f'const k = "{CID}"; const q = new URLSearchParams({{url: u, client_id: k}});\n'
    f"fetch(`{API}/resolve?${{q}}`);",
    "concat": f'var a = "{CID[:10]}", b = "{CID[10:]}"; var s = "{API}/tracks/" + id + "/streams?client_id=" + a + b;',
    "template": f'const KEY = "{CID}"; const HOST = "api-v2.soundcloud.com";\n'
    "fetch(`https://${HOST}/resolve?url=${encodeURIComponent(link)}&client_id=${KEY}`);",
    "array-join": 'const h = ["api-v2", "soundcloud", "com"].join(".");\n'
    f'const c = ["{CID[:16]}", "{CID[16:]}"].join("");\n'
    'fetch("https://" + h + "/resolve?url=" + u + "&client_id=" + c);',
    "atob": f'const endpoint = atob("{B64}"); fetch(endpoint);',
    "fromCharCode": f'var c = String.fromCharCode({CHARS}); $.get("{API}/resolve?url=" + u + "&client_id=" + c);',
    "augmented": f'let u = "{API}/resolve?url=" + x; u += "&client_id="; u += "{CID}"; fetch(u);',
}


def _all(matches, sig: str) -> list:
    return [m for m in matches if m.signature == sig]


@pytest.mark.parametrize("form", sorted(HIDDEN))
def test_hidden_client_id_in_a_fetched_script_is_high(form):
    matches = scan_script(HIDDEN[form])
    hits = _all(matches, "SC-CLIENT-ID-IN-3P")
    assert {m.data["client_id"] for m in hits} == {CID}
    assert max_severity(matches) == "high"


@pytest.mark.parametrize("form", ["constant", "template", "atob"])
def test_hidden_client_id_in_an_inline_script_is_high(form):
    matches = scan_html(f"<html><body><form></form><script>{HIDDEN[form]}</script></body></html>")
    assert {m.data["client_id"] for m in _all(matches, "SC-CLIENT-ID-IN-3P")} == {CID}


def test_the_reported_downloader_is_no_longer_rated_low():
    """The issue's page: the literal-only rule saw SC-API-RESOLVE alone (low)."""
    js = f'const CID = "{CID}"; const base = "{API}/resolve?url=" + encodeURIComponent(link);\n'
    js += 'fetch(base + "&client_id=" + CID);'
    matches = scan_html(f"<html><script>{js}</script></html>")
    assert by_id(matches, "SC-API-RESOLVE").severity == "high"  # escalated by the client_id
    assert by_id(matches, "SC-CLIENT-ID-IN-3P").severity == "high"


def test_media_url_built_from_pieces_matches_the_cdn_signature():
    js = f'const cdn = "https://cf-media." + ["sndcdn", "com"].join("."); const t = "{TOKEN}";\n'
    js += "audio.src = `${cdn}/${t}.128.mp3`;"
    matches = scan_script(js)
    assert by_id(matches, "SC-CDN-PROGRESSIVE").severity == "high"


@pytest.mark.parametrize(
    "js",
    [
        # an md5/sha in a variable next to a real SoundCloud resolve call
        f'const checksum = "d41d8cd98f00b204e9800998ecf8427e"; fetch("{API}/resolve?url=" + u + "&v=" + checksum);',
        # a CSS-module class hash and a GA measurement id
        f'el.className = "css-" + "9f86d081884c7d659a2feaa0c55ad015"; gtag("config", "G-ABC123XYZ9"); x = "{API}";',
        # a Google Analytics client id called cid (not 32 alphanumerics)
        'const cid = "1234567890.1712345678"; fetch("https://www.google-analytics.com/collect?cid=" + cid);'
        f'y = "{API}";',
        # a client_id-like constant only ever used with another service
        f'const CLIENT_ID = "{CID}"; fetch("https://api.spotify.example/v1/search?client_id=" + CLIENT_ID);',
        # "acid" is not a client id name
        f'const acid = "{CID}"; fetch("{API}/resolve?url=" + u + "&acid=" + acid);',
    ],
)
def test_look_alike_hex_strings_are_not_client_ids(js):
    matches = scan_script(js)
    assert not _all(matches, "SC-CLIENT-ID-IN-3P")
    assert max_severity(matches) in ("info", "low", None)


def test_minified_library_yields_nothing_above_info():
    chunks = ",".join(f'{i}:"{i:032x}"' for i in range(300))
    js = (
        "!function(e){var t={},n=function(r){if(t[r])return t[r].exports;var o=t[r]={i:r,l:!1,exports:{}};"
        'return e[r].call(o.exports,o,o.exports,n),o.l=!0,o.exports};n.p="/static/";'
        f'n.u=function(e){{return n.p+""+e+"."+{{{chunks}}}[e]+".js"}};'
        'var a=["Mon","Tue","Wed"].join(" "),b=atob("aGVsbG8gd29ybGQ="),cid=n.u(7);'
        'e.exports=function(x){return x.split("").reverse().join("")}}([]);'
    )
    matches = scan_script(js)
    assert max_severity(matches) in ("info", None)
    assert "hello world" in resolve_script(js)  # it was evaluated, not skipped


def test_client_id_names():
    for name in ("client_id", "clientId", "SC_CLIENT_ID", "CID", "scCid", "clientID", "apiClientId"):
        assert is_client_id_name(name), name
    for name in ("acid", "placid", "client", "id", "userId", "cidr"):
        assert not is_client_id_name(name), name


def _bounded(js: str) -> str:
    t0 = time.monotonic()
    out = resolve_script(js)
    assert time.monotonic() - t0 < 15
    assert len(out) <= MAX_OUTPUT_CHARS
    return out


def test_hostile_scripts_stay_within_bounds():
    # a million-term concatenation is over the size limit: skipped without parsing
    assert _bounded('const client_id = "' + '"+"a' * 1_000_000 + '";') == ""
    # just under the limit: parsed, evaluated up to the step budget, output bounded
    terms = (MAX_SCRIPT_BYTES - 200) // 4
    _bounded('var CID = "a"' + '+"b"' * terms + '; fetch("https://api-v2.soundcloud.com/?client_id="+CID);')
    # deeply nested parentheses and arrays
    _bounded("var client_id = " + "(" * 100_000 + '"x"' + ")" * 100_000 + ";")
    _bounded('var cid = atob("x"); var a = ' + "[" * 100_000 + "]" * 100_000 + ";")
    # exponential doubling stops at the string length limit
    doubling = "var a0 = 'soundcloud';" + "".join(f"var a{i} = a{i - 1} + a{i - 1};" for i in range(1, 80))
    out = _bounded(doubling + "fetch(a79);")
    assert max(len(line) for line in out.splitlines()) <= 8192
    # self-reference and mutual recursion do not loop
    _bounded('var client_id = client_id + "x"; var a = b + "soundcloud"; var b = a + "y"; f(a, b);')
    # thousands of sinks: the output is capped
    many = "".join(f'f("https://api-v2.soundcloud.com/r{i}?x=" + v{i});' for i in range(8_000))
    assert len(_bounded(many).splitlines()) <= 2000


@pytest.mark.parametrize(
    "junk",
    ["", "   ", "<<<>>> not js at all atob(", "const = = ;;; soundcloud", "\x00\x01 client_id \ud800", "`${`${`"],
)
def test_bad_scripts_fall_back_silently(junk):
    assert isinstance(resolve_script(junk), str)
    scan_html(f"<html><script>{junk.replace(chr(0xD800), '?')}</script></html>")  # never raises


def test_oversize_script_keeps_todays_literal_matching():
    padding = "/*" + "x" * MAX_SCRIPT_BYTES + "*/"
    js = f'{padding} fetch("{API}/resolve?url=" + u + "&client_id={CID}");'
    hidden = f'{padding} const CID = "{CID}"; fetch("{API}/resolve?url=" + u + "&client_id=" + CID);'
    assert _all(scan_script(js), "SC-CLIENT-ID-IN-3P")  # the literal form still matches
    assert not _all(scan_script(hidden), "SC-CLIENT-ID-IN-3P")  # too big to evaluate: as before
