"""Grafana 11 dashboards, built with Grafana's foundation SDK; one module per dashboard."""
