"""Unit tests of the generator: spec validation, route groups, k6 thresholds, time scaling.

    python -m unittest discover -s generator/tests -p 'test_*.py'
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watchpost_gen import k6_thresholds, routes, slo_rules, slo_spec  # noqa: E402
from watchpost_gen.windows import Scale, duration  # noqa: E402

SPEC = textwrap.dedent(
    """
    version: "prometheus/v1"
    service: "task-api"
    slos:
      - name: "reads"
        objective: 99.5
        labels: {slo_group: "read", sli_type: "availability"}
        sli:
          events:
            error_query: sum(rate(x_count{http_request_method="GET",http_route=~"/api/v1/tasks.*",code=~"5.."}[{{.window}}]))
            total_query: sum(rate(x_count{http_request_method="GET",http_route=~"/api/v1/tasks.*"}[{{.window}}]))
        alerting: {name: ReadsBurn}
      - name: "reads-fast"
        objective: 95
        labels: {slo_group: "read", sli_type: "latency", latency_le: "0.1"}
        sli:
          events:
            error_query: sum(rate(x_count{http_request_method="GET",http_route=~"/api/v1/tasks.*"}[{{.window}}])) - sum(rate(x_bucket{http_request_method="GET",http_route=~"/api/v1/tasks.*",le="0.1"}[{{.window}}]))
            total_query: sum(rate(x_count{http_request_method="GET",http_route=~"/api/v1/tasks.*"}[{{.window}}]))
        alerting: {name: ReadsSlow}
    """
)


def load(text: str) -> list[slo_spec.SLO]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(text)
        file.flush()
        return slo_spec.load(Path(file.name))


class SpecTest(unittest.TestCase):
    def test_a_valid_spec_gives_its_slos_in_file_order(self):
        slos = load(SPEC)
        self.assertEqual([s.id for s in slos], ["task-api-reads", "task-api-reads-fast"])
        self.assertEqual(str(slos[0].error_budget), "0.005")

    def test_an_slo_without_a_group_is_refused_naming_it(self):
        with self.assertRaisesRegex(slo_spec.SpecError, "slo reads: labels: `slo_group` is required"):
            load(SPEC.replace('slo_group: "read", sli_type: "availability"', 'sli_type: "availability"'))

    def test_a_latency_slo_whose_query_uses_another_bucket_is_refused(self):
        with self.assertRaisesRegex(slo_spec.SpecError, 'does not use the bucket le="0.25"'):
            load(SPEC.replace('latency_le: "0.1"', 'latency_le: "0.25"'))

    def test_an_objective_of_100_is_refused(self):
        with self.assertRaisesRegex(slo_spec.SpecError, r"objective must be in \(0, 100\)"):
            load(SPEC.replace("objective: 99.5", "objective: 100"))

    def test_a_query_without_the_window_placeholder_is_refused(self):
        with self.assertRaisesRegex(slo_spec.SpecError, "total_query has no"):
            load(SPEC.replace('"/api/v1/tasks.*"}[{{.window}}]))\n    alerting: {name: ReadsBurn}',
                              '"/api/v1/tasks.*"}[5m]))\n    alerting: {name: ReadsBurn}'))


class RoutesTest(unittest.TestCase):
    def test_matchers_select_routes_as_prometheus_anchors_them(self):
        query = 'x{http_request_method=~"POST|PATCH",http_route=~"/api/v1/tasks|/api/v1/tasks/{id}"}'
        self.assertEqual(routes.selected_routes(query), ["POST /api/v1/tasks", "PATCH /api/v1/tasks/{id}"])

    def test_negative_matchers_exclude(self):
        query = 'x{http_request_method="GET",http_route!="/api/v1/openapi.json"}'
        self.assertEqual(routes.selected_routes(query), ["GET /api/v1/tasks", "GET /api/v1/tasks/{id}"])

    def test_slos_of_one_group_must_select_the_same_routes(self):
        slos = load(SPEC.replace('http_route=~"/api/v1/tasks.*"}[{{.window}}]))\n    alerting: {name: ReadsSlow}',
                                 'http_route="/api/v1/tasks"}[{{.window}}]))\n    alerting: {name: ReadsSlow}'))
        with self.assertRaisesRegex(slo_spec.SpecError, "group read selects"):
            routes.slo_groups(slos)


class ThresholdsTest(unittest.TestCase):
    def test_availability_and_latency_become_k6_expressions(self):
        self.assertEqual(
            k6_thresholds.thresholds(load(SPEC)),
            {"http_req_failed{slo_group:read}": ["rate<0.005"], "http_req_duration{slo_group:read}": ["p(95)<100"]},
        )


class ScaleTest(unittest.TestCase):
    def test_durations_are_written_in_their_largest_whole_unit(self):
        self.assertEqual([duration(s) for s in (5, 60, 90, 3600, 86400 * 3)], ["5s", "1m", "90s", "1h", "3d"])

    def test_a_scale_of_60_turns_hours_into_minutes(self):
        scale = Scale(60)
        self.assertEqual([scale(w) for w in ("5m", "1h", "1d", "30d")], ["5s", "1m", "24m", "12h"])

    def test_scaled_rules_keep_nominal_names_with_shortened_ranges(self):
        groups = slo_rules.rule_groups(load(SPEC), Scale(60))["groups"]
        rule = next(r for r in groups[0]["rules"] if r["record"] == "slo:sli_error:ratio_rate1h")
        self.assertIn("[1m]", rule["expr"])
        self.assertNotIn("[1h]", rule["expr"])
        self.assertEqual(rule["labels"]["sloth_window"], "1h")
        page = next(r for r in groups[2]["rules"] if r.get("labels", {}).get("severity") == "page")
        self.assertEqual((page["for"], page["keep_firing_for"]), ("2s", "10s"))
        self.assertIn("* 60 >= 10", page["expr"])


if __name__ == "__main__":
    unittest.main()
