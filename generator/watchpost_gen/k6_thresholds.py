"""k6 thresholds from the SLOs: a load test passes only if it stayed within every objective.

Keys are k6 threshold expressions on the `slo_group` tag the k6 scripts put on every
request: availability "P% without a 5xx" becomes `http_req_failed{slo_group:G}: rate<1-P`
(the scripts count only 5xx as failed), latency "P% under B ms" becomes
`http_req_duration{slo_group:G}: p(P)<B`.
"""

from __future__ import annotations

from decimal import Decimal

from .slo_spec import SLO


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def thresholds(slos: list[SLO]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for slo in slos:
        if slo.sli_type == "availability":
            key = f"http_req_failed{{slo_group:{slo.group}}}"
            expression = f"rate<{_plain(slo.error_budget)}"
        else:
            key = f"http_req_duration{{slo_group:{slo.group}}}"
            expression = f"p({_plain(slo.objective)})<{_plain(slo.latency_le * 1000)}"
        result.setdefault(key, []).append(expression)
    return result
