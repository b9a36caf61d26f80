"""The Cases page's two actions behind the API token: draft a takedown notice (downloaded, never sent) and export
the case's evidence bundle (written under the exports directory, its chain head recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.cases import bundle, notice
from monitor.errors import BadRequest, HttpError, NotFound, NoticeTemplateError
from monitor.signatures.catalogue import Catalogue
from monitor.store import EvidenceFiles, utcnow
from monitor.vocabulary import NOTICE_RECIPIENTS
from monitor.web.api import StoreFactory
from monitor.web.http import authorize, path_parts, query_args, send

WEB_FORMATS = ("md", "eml")  # a PDF needs Chromium: `scrapewatch case notice --format pdf` makes one


@dataclass
class CaseActions:
    """POST /cases/{id}/notice (fields: token, to, format) and POST /cases/{id}/export (field: token, actor)."""

    stores: StoreFactory
    token: bytes | None
    catalogue: Catalogue | None = None
    files: EvidenceFiles | None = None
    exports_dir: Path | None = None
    sender: notice.Sender = field(default_factory=notice.Sender)
    templates_dir: Path | None = None

    def post(self, request) -> bytes:
        rest = path_parts(request)
        if len(rest) != 2 or not rest[0].isdigit() or rest[1] not in ("notice", "export"):
            raise HttpError(405, "only /cases/{id}/notice and /cases/{id}/export accept POST", {"Allow": "GET, HEAD"})
        authorize(request, self.token, (request.args.get(b"token") or [b""])[-1], api=False)
        form, case_id = query_args(request), int(rest[0])
        store = self.stores()
        try:
            facts = store.case_facts(case_id, self.catalogue)
            if facts is None:
                raise NotFound(f"no case #{case_id}")
            if rest[1] == "notice":
                return self._notice(request, facts, form)
            return self._export(request, store, facts, form)
        finally:
            store.db.close()

    def _notice(self, request, facts: dict[str, Any], form: dict[str, str]) -> bytes:
        to, fmt = form.get("to", "hosting"), form.get("format", "md")
        if to not in NOTICE_RECIPIENTS or fmt not in WEB_FORMATS:
            raise BadRequest(
                f"to must be one of {', '.join(NOTICE_RECIPIENTS)}; format one of {', '.join(WEB_FORMATS)}"
            )
        try:
            drafted = notice.draft(facts, to, fmt, self.templates_dir, self.sender, address=form.get("address") or None)
        except NoticeTemplateError as exc:  # the team's template is broken: say so, draft nothing
            raise HttpError(500, f"notice template error: {exc}") from None
        name = f"case-{facts['id']}-notice-{to}.{fmt}"
        return send(request, 200, drafted.content, drafted.content_type,
                    {"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

    def _export(self, request, store, facts: dict[str, Any], form: dict[str, str]) -> bytes:
        if self.files is None or self.exports_dir is None:
            raise HttpError(503, "this server has no evidence store to export from")
        result = bundle.export(facts, self.files, self.exports_dir)
        actor = (form.get("actor") or "triage")[:100]
        bundle.record_export(store.db, int(facts["id"]), result, actor, utcnow())
        lines = [f"bundle: {result.path}", f"chain head: {result.chain_head}", f"files: {result.files}",
                 *(f"MISSING {m.kind} {m.sha256}: {m.reason}" for m in result.missing)]  # fmt: skip
        return send(request, 200, ("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8")
