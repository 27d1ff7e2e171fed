mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name_prefix       = "watchpost-test"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  oidc_issuer       = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
}

run "only_the_agent_may_put_metrics_without_sidecar_mode" {
  command = plan

  assert {
    condition     = keys(aws_iam_role_policy.put_metric_data) == ["node-agent"]
    error_message = "only the agent's role gets PutMetricData"
  }
  assert {
    condition     = aws_iam_role.this["node-agent"].name == "watchpost-test-node-agent"
    error_message = "unexpected role name"
  }
}

run "sidecar_mode_lets_the_api_role_put_metrics" {
  command = plan
  variables { task_api_cloudwatch_namespace = "Watchpost/TaskApi" }

  assert {
    condition     = length(aws_iam_role_policy.put_metric_data) == 2
    error_message = "the task API's role needs PutMetricData in sidecar mode"
  }
}

run "reserved_cloudwatch_namespace_is_refused" {
  command = plan
  variables { agent_cloudwatch_namespace = "AWS/EC2" }
  expect_failures = [var.agent_cloudwatch_namespace]
}

run "issuer_with_scheme_is_refused" {
  command = plan
  variables { oidc_issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE" }
  expect_failures = [var.oidc_issuer]
}

run "non_oidc_provider_arn_is_refused" {
  command = plan
  variables { oidc_provider_arn = "arn:aws:iam::123456789012:role/x" }
  expect_failures = [var.oidc_provider_arn]
}
