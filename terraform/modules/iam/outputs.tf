output "agent_role_arn" {
  description = "IRSA role of the node agent (node-agent chart: serviceAccount.roleArn)."
  value       = aws_iam_role.this["node-agent"].arn
}

output "task_api_role_arn" {
  description = "IRSA role of the task API (task-api chart: serviceAccount.roleArn)."
  value       = aws_iam_role.this["task-api"].arn
}

output "put_metric_data_policies" {
  description = "The PutMetricData policy documents by role, for review."
  value       = { for k, d in data.aws_iam_policy_document.put_metric_data : k => d.json }
}
