mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
}

variables {
  name         = "watchpost-test"
  cluster_name = "watchpost-test"
}

run "node_alarms_page_and_query_the_agents_namespace" {
  command = plan

  assert {
    condition     = strcontains(one(aws_cloudwatch_metric_alarm.node_memory_low.metric_query).expression, "SCHEMA(\"Watchpost/Node\", ClusterName, NodeName) WHERE ClusterName = 'watchpost-test'")
    error_message = "the memory alarm must query every node of the cluster"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.node_agents_silent.treat_missing_data == "breaching"
    error_message = "silence of every agent must page"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.task_api_errors) == 0
    error_message = "no API alarm without sidecar metrics"
  }
}

run "sidecar_mode_adds_the_api_alarms" {
  command = plan
  variables { task_api_namespace = "Watchpost/TaskApi" }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.task_api_errors) == 1 && length(aws_cloudwatch_metric_alarm.task_api_slow) == 1
    error_message = "expected the error and latency alarms"
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
