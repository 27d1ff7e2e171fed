"""Generates the on-call surface from alerts/slos.yaml: Prometheus rules, dashboards, k6 thresholds."""
