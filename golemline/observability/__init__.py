"""Observability as code: Grafana dashboards, Prometheus recording and alerting rules, and a PNG renderer.

`python -m golemline.observability.generate` writes dashboards/*.json, dashboards/rules/*.yaml and the chart's
copies; tests check that regenerating gives the committed files.
"""
