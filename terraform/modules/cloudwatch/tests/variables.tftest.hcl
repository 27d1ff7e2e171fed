mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name         = "watchpost-test"
  cluster_name = "watchpost-test"
}

run "node_alarms_page_and_query_the_agents_namespace" {
  command = plan

  assert {
    condition     = strcontains(one(aws_cloudwatch_metric_alarm.node["memory-available-low"].metric_query).expression, "SCHEMA(\"Watchpost/Node\", ClusterName, NodeName) WHERE ClusterName = 'watchpost-test'")
    error_message = "the memory alarm must query every node of the cluster"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.node["agents-silent"].treat_missing_data == "breaching"
    error_message = "silence of every agent must page"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.task_api) == 0
    error_message = "no API alarm without sidecar metrics"
  }
}

run "sidecar_mode_adds_the_api_alarms" {
  command = plan
  variables { task_api_namespace = "Watchpost/TaskApi" }

  assert {
    condition     = keys(aws_cloudwatch_metric_alarm.task_api) == ["error-ratio", "slow-ratio"]
    error_message = "expected the error and latency alarms"
  }
  assert {
    condition     = toset([for q in aws_cloudwatch_metric_alarm.task_api["error-ratio"].metric_query : q.id]) == toset(["ratio", "errors", "requests"])
    error_message = "the error ratio divides the 5xx count by the request count"
  }
}

run "unknown_retention_is_refused" {
  command = plan
  variables { log_groups = { "/watchpost/x" = 10 } }
  expect_failures = [var.log_groups]
}

run "unknown_paging_protocol_is_refused" {
  command = plan
  variables { paging_subscriptions = [{ protocol = "slack", endpoint = "#oncall" }] }
  expect_failures = [var.paging_subscriptions]
}

run "error_ratio_above_100_percent_is_refused" {
  command = plan
  variables { task_api_error_ratio_percent = 150 }
  expect_failures = [var.task_api_error_ratio_percent]
}

run "a_database_adds_its_cpu_and_storage_alarms" {
  command = plan
  variables { rds_instance_identifier = "watchpost-test" }

  assert {
    condition     = aws_cloudwatch_metric_alarm.rds["free-storage-low"].metric_name == "FreeStorageSpace" && aws_cloudwatch_metric_alarm.rds["cpu-high"].alarm_name == "watchpost-test-rds-cpu-high"
    error_message = "expected the database's CPU and free storage alarms"
  }
}
