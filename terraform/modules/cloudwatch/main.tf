data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# One key for the logs and the paging topic: CloudWatch Logs encrypts with it, and
# CloudWatch alarms need it to publish to the encrypted topic.
data "aws_iam_policy_document" "key" {
  # In a key policy "*" is the key itself; each statement is limited by principal and condition.
  #checkov:skip=CKV_AWS_109:a key policy's Resource "*" is this key only; the account root statement is AWS's default key policy
  #checkov:skip=CKV_AWS_111:a key policy's Resource "*" is this key only; service statements are bound to this account by condition
  #checkov:skip=CKV_AWS_356:a key policy's Resource "*" is this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisAccount"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: CloudWatch log groups and the paging topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}/observability"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = var.log_groups
  name              = each.key
  retention_in_days = each.value
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic" "paging" {
  name              = "${var.name}-paging"
  kms_master_key_id = aws_kms_key.this.id
  tags              = var.tags
}

data "aws_iam_policy_document" "paging" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.paging.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "paging" {
  arn    = aws_sns_topic.paging.arn
  policy = data.aws_iam_policy_document.paging.json
}

resource "aws_sns_topic_subscription" "paging" {
  for_each  = { for s in var.paging_subscriptions : "${s.protocol}:${s.endpoint}" => s }
  topic_arn = aws_sns_topic.paging.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

locals {
  actions = [aws_sns_topic.paging.arn]
  # Metrics Insights over every node of the cluster: one alarm covers nodes that come and go.
  nodes = "SCHEMA(\"${var.node_namespace}\", ClusterName, NodeName) WHERE ClusterName = '${var.cluster_name}'"
}

resource "aws_cloudwatch_metric_alarm" "node_memory_low" {
  alarm_name          = "${var.name}-node-memory-available-low"
  alarm_description   = "The node with the least available memory has under ${var.node_memory_available_min_bytes} bytes (node_memory_MemAvailable_bytes from the node agent). Runbook: docs/deploy.md#alarms"
  comparison_operator = "LessThanThreshold"
  threshold           = var.node_memory_available_min_bytes
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "q"
    expression  = "SELECT MIN(node_memory_MemAvailable_bytes) FROM ${local.nodes}"
    period      = 60
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "node_root_filesystem_low" {
  alarm_name          = "${var.name}-node-root-filesystem-available-low"
  alarm_description   = "A node's root filesystem has under ${var.node_root_filesystem_available_min_bytes} bytes available (node_filesystem_avail_bytes{mountpoint=\"/\"}). Runbook: docs/deploy.md#alarms"
  comparison_operator = "LessThanThreshold"
  threshold           = var.node_root_filesystem_available_min_bytes
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "q"
    expression  = "SELECT MIN(node_filesystem_avail_bytes) FROM ${local.nodes}"
    period      = 300
    return_data = true
  }

  tags = var.tags
}

# No datum from any node for 10 minutes: the agents stopped pushing (or lost their role).
resource "aws_cloudwatch_metric_alarm" "node_agents_silent" {
  alarm_name          = "${var.name}-node-agents-silent"
  alarm_description   = "No node agent of ${var.cluster_name} pushed node_load1 for 10 minutes. Runbook: docs/deploy.md#alarms"
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 10
  datapoints_to_alarm = 10
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "q"
    expression  = "SELECT COUNT(node_load1) FROM ${local.nodes}"
    period      = 60
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "task_api_errors" {
  count               = var.task_api_namespace == null ? 0 : 1
  alarm_name          = "${var.name}-task-api-error-ratio"
  alarm_description   = "Over ${var.task_api_error_ratio_percent}% of task API requests answered 5xx for 5 minutes (sidecar agent metrics). Runbook: docs/deploy.md#alarms"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.task_api_error_ratio_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "ratio"
    expression  = "100 * FILL(errors, 0) / requests"
    label       = "5xx percent"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = var.task_api_namespace
      metric_name = "TaskApiServerErrors"
      dimensions  = { ClusterName = var.cluster_name }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = var.task_api_namespace
      metric_name = "TaskApiRequests"
      dimensions  = { ClusterName = var.cluster_name }
      period      = 60
      stat        = "Sum"
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "task_api_slow" {
  count               = var.task_api_namespace == null ? 0 : 1
  alarm_name          = "${var.name}-task-api-slow-ratio"
  alarm_description   = "Over ${var.task_api_slow_ratio_percent}% of task API requests took longer than 500 ms for 5 minutes. Runbook: docs/deploy.md#alarms"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.task_api_slow_ratio_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "ratio"
    expression  = "100 * (requests - FILL(fast, 0)) / requests"
    label       = "percent over 500 ms"
    return_data = true
  }

  metric_query {
    id = "fast"
    metric {
      namespace   = var.task_api_namespace
      metric_name = "TaskApiRequestsUnder500ms"
      dimensions  = { ClusterName = var.cluster_name }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = var.task_api_namespace
      metric_name = "TaskApiRequests"
      dimensions  = { ClusterName = var.cluster_name }
      period      = 60
      stat        = "Sum"
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  count               = var.rds_instance_identifier == null ? 0 : 1
  alarm_name          = "${var.name}-rds-cpu-high"
  alarm_description   = "The task database's CPU is above 80% for 15 minutes. Runbook: docs/deploy.md#alarms"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 80
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_storage" {
  count               = var.rds_instance_identifier == null ? 0 : 1
  alarm_name          = "${var.name}-rds-free-storage-low"
  alarm_description   = "The task database has under 5 GiB of free storage (autoscaling stalled or at its maximum). Runbook: docs/deploy.md#alarms"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 5368709120
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
