"""Pages that list many SoundCloud tracks: dataset cards, CSV/JSONL listings and a corpus README (listings), and
a playlist blog, a chart, a DJ tracklist, a discography and a widget page (not listings)."""

from __future__ import annotations

import json

ARTISTS = [f"artist-{i}" for i in range(13)]


def permalinks(n: int = 40, artist: str | None = None) -> list[str]:
    return [f"https://soundcloud.com/{artist or ARTISTS[i % 13]}/track-number-{i}" for i in range(n)]


def _rows(links: list[str]) -> str:
    return "".join(f'<tr><td>{i}</td><td><a href="{u}">{u}</a></td></tr>' for i, u in enumerate(links))


def dataset_card(n: int = 40) -> str:
    return (
        "<html><head><title>SoundBank-40</title></head><body><h1>SoundBank-40</h1>"
        "<p>Tracks collected from SoundCloud with a crawler in May 2026. Audio is included (MP3, 128 kbps), one "
        "file per row.</p><table><tr><th>#</th><th>track</th></tr>" + _rows(permalinks(n)) + "</table></body></html>"
    )


def csv_listing(n: int = 40) -> str:
    return "id,title,soundcloud_url\n" + "".join(f"{i},Track {i},{u}\n" for i, u in enumerate(permalinks(n)))


def jsonl_listing(n: int = 40) -> str:
    rows = (json.dumps({"title": f"Track {i}", "permalink_url": u}) for i, u in enumerate(permalinks(n)))
    return "\n".join(rows) + "\n"


def corpus_readme(n: int = 40) -> str:
    links = "".join(f"- {u}\n" for u in permalinks(n))
    return (
        "# sc-crawl-corpus: a music dataset\n\n"
        "A corpus of electronic music for training models, scraped with our crawler.\n\n"
        "## Tracks\n\n" + links
    )


def playlist_blog(n: int = 40) -> str:
    items = "".join(f'<li><a href="{u}">Track {i}</a> — a late-night gem</li>' for i, u in enumerate(permalinks(n)))
    return (
        "<html><head><title>40 tracks for your night drive</title></head><body><h1>My playlist of the month</h1>"
        "<p>I scraped together my favourite 40 tracks from a month of digging: a collection for long drives. "
        "Hit play and enjoy.</p><ol>" + items + "</ol></body></html>"
    )


def chart_page(n: int = 50) -> str:
    items = "".join(f'<li>#{i + 1} <a href="{u}">Track {i}</a> 12k plays</li>' for i, u in enumerate(permalinks(n)))
    return (
        "<html><head><title>Top 50 this week</title></head><body><h1>Top 50 this week</h1>"
        "<p>The most played tracks of the week, updated every Monday.</p><ol>" + items + "</ol></body></html>"
    )


def tracklist(n: int = 30) -> str:
    items = "".join(f'<li>{i + 1}. Artist {i} - <a href="{u}">Track {i}</a></li>' for i, u in enumerate(permalinks(n)))
    return (
        "<html><head><title>Live at Warehouse 9 — DJ set</title></head><body><h1>Tracklist</h1>"
        "<p>Recorded live, 3 hours of techno. Full tracklist below.</p><ol>" + items + "</ol></body></html>"
    )


def discography(n: int = 40) -> str:
    items = "".join(f'<li><a href="{u}">Track {i}</a> (2024)</li>' for i, u in enumerate(permalinks(n, "artist-0")))
    return (
        "<html><head><title>artist-0 — Discography</title></head><body><h1>Discography</h1><h2>Singles</h2>"
        "<ul>" + items + "</ul><p>Stream everything on SoundCloud.</p></body></html>"
    )


def widget_page(n: int = 40) -> str:
    frames = "".join(
        '<iframe width="100%" height="166" allow="autoplay" src="https://w.soundcloud.com/player/?url='
        f'https%3A//api.soundcloud.com/tracks/{1000000 + i}&color=%23ff5500&auto_play=false"></iframe>'
        for i in range(n)
    )
    return "<html><head><title>Our label's releases</title></head><body><h1>Releases</h1>" + frames + "</body></html>"


def article_about_datasets() -> str:
    links = "".join(f'<a href="{u}">example</a> ' for u in permalinks(3))
    return (
        "<html><head><title>Why music datasets matter</title></head><body><h1>Training data for music AI</h1>"
        "<p>Datasets scraped from the web are used for training models. " + links + "</p></body></html>"
    )
