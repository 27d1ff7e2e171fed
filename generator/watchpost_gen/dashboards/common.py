"""What every dashboard shares: the `datasource` variable, job/instance variables, and
panels that cannot be built without an id, a description and a unit.

Panel ids are explicit and stable because alerts link to them (`viewPanel=<id>`).
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import loki, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from .. import links

PROMETHEUS = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = models.DataSourceRef(type_val="loki", uid="${datasource}")

TAGS = ["watchpost"]

# The `job` and `instance` variables of a scraped_dashboard, as a PromQL label matcher.
SELECTOR = 'job=~"$job", instance=~"$instance"'


def new_dashboard(uid: str, title: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .editable()
        .link(
            dash.DashboardLink("Watchpost dashboards")
            .type(models.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


def scraped_dashboard(uid: str, title: str, description: str, metric: str) -> dash.Dashboard:
    """A dashboard over one scraped job: the Prometheus `datasource`, the `job` and `instance`
    variables (values from `metric`, which every target exposes) and the runbooks link."""
    return (
        new_dashboard(uid, title, description)
        .with_variable(datasource_variable("prometheus"))
        .with_variable(query_variable("job", "Job", f"label_values({metric}, job)"))
        .with_variable(query_variable("instance", "Instance", f'label_values({metric}{{job=~"$job"}}, instance)'))
        .link(runbooks_link())
    )


def with_panels(board: dash.Dashboard, panels) -> dash.Dashboard:
    for panel in panels:
        board = board.with_panel(panel)
    return board


def datasource_variable(kind: str) -> dash.DatasourceVariable:
    return dash.DatasourceVariable("datasource").label("Data source").type(kind)


def query_variable(name: str, label: str, query: str, ds=PROMETHEUS) -> dash.QueryVariable:
    return (
        dash.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(ds)
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .current(models.VariableOption(selected=True, text="All", value="$__all"))
    )


def promql(expr: str, legend: str = "__auto", ref: str = "A", exemplar: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)
    if exemplar:
        query = query.exemplar(True)
    return query


def rate(series: str) -> str:
    """`rate()` over Grafana's `$__rate_interval`, which the dashboard lint requires."""
    return f"rate({series}[$__rate_interval])"


def quantile(q: float, by: str, bucket: str) -> str:
    """The q-quantile of a histogram's `bucket` series, aggregated by `le` and `by`."""
    return f"histogram_quantile({q}, sum by ({by}) ({rate(bucket)}))"


def logql(expr: str, ref: str = "A") -> loki.Dataquery:
    return loki.Dataquery().expr(expr).ref_id(ref).datasource(LOKI)


def _finish(panel, panel_id: int, title: str, description: str, unit: str, width: int, height: int, targets):
    panel = panel.id(panel_id).title(title).description(description).unit(unit).span(width).height(height)
    for ref, target in zip("ABCDEFGHIJ", targets):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def timeseries_panel(panel_id, title, description, unit, targets, width=12, height=8, stack=False):
    panel = timeseries.Panel().datasource(PROMETHEUS).fill_opacity(10).line_width(1)
    if stack:
        panel = panel.stacking(common_builders.StackingConfig().mode(common_models.StackingMode.NORMAL))
    return _finish(panel, panel_id, title, description, unit, width, height, targets)


def stat_panel(panel_id, title, description, unit, targets, width=6, height=5, decimals=None):
    panel = stat.Panel().datasource(PROMETHEUS).reduce_options(
        common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return _finish(panel, panel_id, title, description, unit, width, height, targets)


def up_panel(panel_id: int, title: str, description: str):
    """How many targets of the selected job Prometheus scraped, out of those it knows."""
    return stat_panel(
        panel_id, title, description, "short",
        [promql(f"sum(up{{{SELECTOR}}})", "up"), promql(f"count(up{{{SELECTOR}}})", "known")],
        width=4, height=8,
    )


def runbook_link(title: str, url: str) -> dash.DashboardLink:
    return dash.DashboardLink(title).url(url).target_blank(True)


def runbooks_link() -> dash.DashboardLink:
    return runbook_link("Runbooks", f"{links.repository()}/tree/main/docs/runbooks")


def to_json(builder: dash.Dashboard) -> str:
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
