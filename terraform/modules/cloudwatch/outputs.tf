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
    [aws_cloudwatch_metric_alarm.node_memory_low.alarm_name, aws_cloudwatch_metric_alarm.node_root_filesystem_low.alarm_name, aws_cloudwatch_metric_alarm.node_agents_silent.alarm_name],
    aws_cloudwatch_metric_alarm.task_api_errors[*].alarm_name,
    aws_cloudwatch_metric_alarm.task_api_slow[*].alarm_name,
    aws_cloudwatch_metric_alarm.rds_cpu[*].alarm_name,
    aws_cloudwatch_metric_alarm.rds_storage[*].alarm_name,
  )
}
