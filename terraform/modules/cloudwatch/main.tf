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
  nodes   = "SCHEMA(\"${var.node_namespace}\", ClusterName, NodeName) WHERE ClusterName = '${var.cluster_name}'"
  runbook = "Runbook: docs/deploy.md#alarms"

  # The node agents' metrics, by alarm name after "<name>-node-": an alarm fires when all
  # of its last `periods` periods of `period` seconds breach.
  node_alarms = {
    memory-available-low = {
      description = "The node with the least available memory has under ${var.node_memory_available_min_bytes} bytes (node_memory_MemAvailable_bytes from the node agent)."
      select      = "MIN(node_memory_MemAvailable_bytes)"
      threshold   = var.node_memory_available_min_bytes
      period      = 60
      periods     = 5
      missing     = "notBreaching"
    }
    root-filesystem-available-low = {
      description = "A node's root filesystem has under ${var.node_root_filesystem_available_min_bytes} bytes available (node_filesystem_avail_bytes{mountpoint=\"/\"})."
      select      = "MIN(node_filesystem_avail_bytes)"
      threshold   = var.node_root_filesystem_available_min_bytes
      period      = 300
      periods     = 3
      missing     = "notBreaching"
    }
    # No datum from any node for 10 minutes: the agents stopped pushing (or lost their role).
    agents-silent = {
      description = "No node agent of ${var.cluster_name} pushed node_load1 for 10 minutes."
      select      = "COUNT(node_load1)"
      threshold   = 1
      period      = 60
      periods     = 10
      missing     = "breaching"
    }
  }

  # The task API's sidecar metrics (sidecar mode only), by alarm name after "<name>-task-api-":
  # a percentage of all requests over 5 minutes; `part` names the metric counted against
  # TaskApiRequests, under the id the expression uses.
  task_api_alarms = var.task_api_namespace == null ? {} : {
    error-ratio = {
      description = "Over ${var.task_api_error_ratio_percent}% of task API requests answered 5xx for 5 minutes (sidecar agent metrics)."
      threshold   = var.task_api_error_ratio_percent
      expression  = "100 * FILL(errors, 0) / requests"
      label       = "5xx percent"
      part        = { errors = "TaskApiServerErrors" }
    }
    slow-ratio = {
      description = "Over ${var.task_api_slow_ratio_percent}% of task API requests took longer than 500 ms for 5 minutes."
      threshold   = var.task_api_slow_ratio_percent
      expression  = "100 * (requests - FILL(fast, 0)) / requests"
      label       = "percent over 500 ms"
      part        = { fast = "TaskApiRequestsUnder500ms" }
    }
  }

  # The task database's own metrics (AWS/RDS), by alarm name after "<name>-rds-".
  rds_alarms = var.rds_instance_identifier == null ? {} : {
    cpu-high = {
      description = "The task database's CPU is above 80% for 15 minutes."
      metric      = "CPUUtilization"
      statistic   = "Average"
      comparison  = "GreaterThanThreshold"
      threshold   = 80
      periods     = 3
    }
    free-storage-low = {
      description = "The task database has under 5 GiB of free storage (autoscaling stalled or at its maximum)."
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 5368709120
      periods     = 2
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "node" {
  for_each            = local.node_alarms
  alarm_name          = "${var.name}-node-${each.key}"
  alarm_description   = "${each.value.description} ${local.runbook}"
  comparison_operator = "LessThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  treat_missing_data  = each.value.missing
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "q"
    expression  = "SELECT ${each.value.select} FROM ${local.nodes}"
    period      = each.value.period
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "task_api" {
  for_each            = local.task_api_alarms
  alarm_name          = "${var.name}-task-api-${each.key}"
  alarm_description   = "${each.value.description} ${local.runbook}"
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  metric_query {
    id          = "ratio"
    expression  = each.value.expression
    label       = each.value.label
    return_data = true
  }

  dynamic "metric_query" {
    for_each = merge(each.value.part, { requests = "TaskApiRequests" })
    content {
      id = metric_query.key
      metric {
        namespace   = var.task_api_namespace
        metric_name = metric_query.value
        dimensions  = { ClusterName = var.cluster_name }
        period      = 60
        stat        = "Sum"
      }
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds" {
  for_each            = local.rds_alarms
  alarm_name          = "${var.name}-rds-${each.key}"
  alarm_description   = "${each.value.description} ${local.runbook}"
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = var.rds_instance_identifier }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}
