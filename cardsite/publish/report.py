"""Tell people and scripts what a publish did: a short text, a JSON result and a job summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import progress
from ..build.output import write_if_changed
from ..errors import Abort, display_path
from .plan import Plan, card_changes, plan_summary


@dataclass
class PublishResult:
    """The outcome of one publish (or dry run), as reported to people and scripts."""

    bucket: str
    prefix: str
    #: None when the run stopped before it could compare (no build, no bucket, no access).
    plan: Plan | None
    card_names: dict[str, str]
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    invalidation_id: str | None = None
    invalidation_paths: list[str] = field(default_factory=list)
    error: str | None = None
    #: With --verify: how many objects were checked, and how each one that differed did.
    verified: int | None = None
    drift: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        """Return the bucket and prefix as an s3:// URL."""
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def ok(self) -> bool:
        """Return True when the run did everything it set out to do."""
        return self.error is None and not self.failed

    def to_json(self) -> dict[str, Any]:
        """Return the machine-readable result (the --result file)."""
        plan = self.plan or Plan()
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "cards": card_changes(plan, self.card_names),
            "paths": plan_summary(plan),
            "uploaded": self.uploaded,
            "deleted": self.deleted,
            "failed": self.failed,
            "invalidation": {"id": self.invalidation_id, "paths": self.invalidation_paths}
            if self.invalidation_id
            else None,
            "error": self.error,
            "verify": {"checked": self.verified, "differed": self.drift} if self.verified is not None else None,
        }

    def text(self) -> str:
        """Return the short human report."""
        plan = self.plan
        if plan is None:
            return f"Publish to {self.target} failed: {self.error}"
        lines = self._dry_run_lines(plan) if self.dry_run else [self._headline(plan)]
        if self.verified is not None:
            fixed = "listed as changed" if self.dry_run else "uploaded again"
            lines.append(f"Verified {self.verified} objects: {len(self.drift)} differed from the site ({fixed}).")
            lines += [f"  ~ {rel}: {why}" for rel, why in sorted(self.drift.items())[:20]]
        lines += [f"Cards {kind}: {', '.join(ids)}" for kind, ids in self._cards_changed(plan)]
        if self.invalidation_id:
            lines.append(f"CloudFront invalidation {self.invalidation_id}: {' '.join(self.invalidation_paths)}")
        if self.failed:
            lines.append(f"{len(self.failed)} request(s) failed:")
            lines += [f"  ! {rel}: {why}" for rel, why in sorted(self.failed.items())[:10]]
        return "\n".join(lines)

    def _dry_run_lines(self, plan: Plan) -> list[str]:
        lines = [f"Dry run for {self.target}: nothing was changed."]
        lines.append(f"Upload {len(plan.uploads)} ({len(plan.added)} added, {len(plan.changed)} changed):")
        lines += [f"  + {rel}" for rel in plan.added] + [f"  ~ {rel}" for rel in plan.changed]
        lines.append(f"Delete {len(plan.deleted)}:")
        lines += [f"  - {rel}" for rel in plan.deleted]
        lines.append(f"Leave {len(plan.unchanged)} unchanged.")
        if self.invalidation_paths:
            lines.append("Invalidate: " + " ".join(self.invalidation_paths))
        return lines

    def _headline(self, plan: Plan) -> str:
        if plan.empty and self.ok and not self.invalidation_id:
            return f"{self.target} is up to date: {len(plan.unchanged)} objects unchanged, nothing uploaded."
        return (
            f"Published to {self.target}: {len(self.uploaded)} uploaded "
            f"({len(plan.added)} added, {len(plan.changed)} changed planned), "
            f"{len(self.deleted)} deleted, {len(plan.unchanged)} unchanged."
        )

    def _count_table(self, plan: Plan) -> list[str]:
        """Return the Markdown table of objects added, changed, deleted and unchanged."""
        deleted = len(plan.deleted) if self.dry_run else len(self.deleted)
        counts = {"added": len(plan.added), "changed": len(plan.changed), "deleted": deleted}
        counts["unchanged"] = len(plan.unchanged)
        return ["| objects | count |", "|---|---:|", *(f"| {kind} | {n} |" for kind, n in counts.items())]

    def _cards_changed(self, plan: Plan) -> list[tuple[str, list[str]]]:
        """Return (kind, card ids) for the kinds of card change that happened, in a fixed order."""
        cards = card_changes(plan, self.card_names)
        return [(kind, cards[kind]) for kind in ("added", "changed", "removed") if cards[kind]]

    def markdown(self) -> str:
        """Return a Markdown summary for the GitHub Actions job summary."""
        title = "Publish (dry run)" if self.dry_run else "Publish"
        status = "OK" if self.ok else f"FAILED: {self.error or f'{len(self.failed)} request(s) failed'}"
        if self.plan is None:
            return f"### {title} to `{self.target}`: {status}\n"
        plan = self.plan
        lines = [f"### {title} to `{self.target}`: {status}", "", *self._count_table(plan), ""]
        lines += [f"- Cards {kind}: " + ", ".join(f"`{c}`" for c in ids) for kind, ids in self._cards_changed(plan)]
        if self.verified is not None:
            lines.append(f"- Verified {self.verified} objects: {len(self.drift)} differed from the site")
        if self.invalidation_id:
            paths = " ".join(f"`{p}`" for p in self.invalidation_paths)
            lines.append(f"- CloudFront invalidation `{self.invalidation_id}`: {paths}")
        return "\n".join(lines) + "\n"


def write_result(path: Path, result: PublishResult) -> None:
    """Write the JSON result atomically (the build's one atomic write), so a script never reads half of it."""
    text = json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"
    try:
        write_if_changed(path, text.encode("utf-8"))
    except OSError as exc:
        raise Abort(f"cannot write {display_path(path)}: {exc.strerror}") from exc


def append_step_summary(result: PublishResult) -> None:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY when running in GitHub Actions."""
    progress.append_summary(result.markdown())
