"""Settings of takedown notices: the team's own templates and the complaining party's contact details."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from monitor.settings.base import Section


class NoticeSettings(Section):
    """Who signs takedown notices and which templates draft them."""

    templates_dir: Path | None = Field(
        None,
        description="Directory of the team's notice templates (notice.md.j2, notice.html.j2, subject.txt.j2); a "
        "template not found there comes from the bundled defaults.",
    )
    sender_name: str = Field("", description="Name of the person who signs notices (the signature line).")
    sender_organisation: str = Field("SoundCloud", description="Organisation on whose behalf notices are sent.")
    sender_email: str = Field("", description="Contact e-mail of the complaining party (the From of .eml drafts).")
    sender_phone: str = Field("", description="Contact telephone number of the complaining party.")
    sender_address: str = Field("", description="Postal address of the complaining party.")
    exports_dir: Path | None = Field(
        None, description="Where `case export` writes evidence bundles; defaults to DATA_DIR/exports."
    )
