output "kms_key_arn" {
  description = "The key of the log groups and the paging topic (pass to network and eks as logs_kms_key_arn)."
  value       = aws_kms_key.this.arn
}

output "paging_topic_arn" {
  description = "The SNS topic every alarm notifies (Alertmanager can publish to it too)."
  value       = aws_sns_topic.paging.arn
}

output "log_group_arns" {
  description = "Created log groups by name."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "alarm_names" {
  description = "Every alarm this module created."
  value = concat(
    values(aws_cloudwatch_metric_alarm.node)[*].alarm_name,
    values(aws_cloudwatch_metric_alarm.task_api)[*].alarm_name,
    values(aws_cloudwatch_metric_alarm.rds)[*].alarm_name,
  )
}
