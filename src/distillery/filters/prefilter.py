"""The declarative prefilter: a cheap gate that keeps obviously off-topic articles from the oracle.

Configured by the ``prefilter`` section of a filter spec. It looks only at the title and the
first ``head_chars`` characters of the content (plus the URL/source for domain exclusions), and
returns pass/block with a reason:

- ``passed``
- ``too_short``            content shorter than ``min_length`` characters
- ``excluded_domain``      URL or source is an excluded domain (or a subdomain of one)
- ``excluded_<category>``  a pattern of that exclusion family matched and none of its
  override keywords appears

Families are checked in spec order; the first one that blocks gives the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlparse

from distillery.filters.spec import FilterSpec, PrefilterSpec

PASSED = "passed"
TOO_SHORT = "too_short"
EXCLUDED_DOMAIN = "excluded_domain"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # "passed" or the block reason


class Prefilter:
    """Compiled prefilter for one spec. ``Prefilter(spec).check(article) -> Verdict``."""

    def __init__(self, spec: FilterSpec | PrefilterSpec):
        self.cfg = spec.prefilter if isinstance(spec, FilterSpec) else spec
        self._families = [
            (
                f"excluded_{f.category}",
                re.compile("|".join(f"(?:{p})" for p in f.patterns), re.IGNORECASE),
                re.compile(r"\b(?:" + "|".join(re.escape(w) for w in f.overrides) + r")\b", re.IGNORECASE)
                if f.overrides
                else None,
            )
            for f in self.cfg.exclusions
        ]

    @property
    def reasons(self) -> list[str]:
        """Every reason this prefilter can give, ``passed`` first."""
        out = [PASSED]
        if self.cfg.min_length:
            out.append(TOO_SHORT)
        if self.cfg.excluded_domains:
            out.append(EXCLUDED_DOMAIN)
        return out + [name for name, _, _ in self._families]

    def _domain_excluded(self, article: dict) -> bool:
        if not self.cfg.excluded_domains:
            return False
        hosts = []
        for field in ("url", "source"):
            value = article.get(field)
            if isinstance(value, str) and value:
                host = urlparse(value if "//" in value else f"//{value}").hostname or ""
                hosts.append(host.lower().removeprefix("www."))
        return any(h == d or h.endswith("." + d) for h in hosts for d in self.cfg.excluded_domains)

    def check(self, article: dict) -> Verdict:
        content = str(article.get("content") or "")
        if len(content.strip()) < self.cfg.min_length:
            return Verdict(False, TOO_SHORT)
        if self._domain_excluded(article):
            return Verdict(False, EXCLUDED_DOMAIN)
        head = f"{article.get('title') or ''}\n{content[: self.cfg.head_chars]}"
        for reason, pattern, overrides in self._families:
            if pattern.search(head) and not (overrides and overrides.search(head)):
                return Verdict(False, reason)
        return Verdict(True, PASSED)
