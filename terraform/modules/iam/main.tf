locals {
  service_accounts = {
    node-agent = var.agent_service_account
    task-api   = var.task_api_service_account
  }
  # What each role may put in CloudWatch: the agent its node namespace, the API (sidecar mode) its own.
  cloudwatch_namespaces = merge(
    { node-agent = var.agent_cloudwatch_namespace },
    var.task_api_cloudwatch_namespace == null ? {} : { task-api = var.task_api_cloudwatch_namespace },
  )
}

# IRSA: only the named service account of the named namespace, with the STS audience, can
# assume the role.
data "aws_iam_policy_document" "assume" {
  for_each = local.service_accounts

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each             = local.service_accounts
  name                 = "${var.name_prefix}-${each.key}"
  description          = "IRSA role of ${each.value.namespace}/${each.value.name}"
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  max_session_duration = 3600
  tags                 = var.tags
}

# PutMetricData has no resource-level permissions: "*" with the namespace condition is
# the narrowest grant AWS offers.
data "aws_iam_policy_document" "put_metric_data" {
  for_each = local.cloudwatch_namespaces

  statement {
    sid       = "PutMetricDataInOwnNamespaceOnly"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [each.value]
    }
  }
}

resource "aws_iam_role_policy" "put_metric_data" {
  for_each = local.cloudwatch_namespaces
  name     = "cloudwatch-put-metric-data"
  role     = aws_iam_role.this[each.key].id
  policy   = data.aws_iam_policy_document.put_metric_data[each.key].json
}

resource "aws_iam_role_policy_attachment" "task_api" {
  for_each   = toset(var.task_api_policy_arns)
  role       = aws_iam_role.this["task-api"].name
  policy_arn = each.key
}
