output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>."
  value       = module.eks.cluster_name
}

output "agent_role_arn" {
  description = "node-agent chart: serviceAccount.roleArn."
  value       = module.iam.agent_role_arn
}

output "task_api_role_arn" {
  description = "task-api chart: serviceAccount.roleArn."
  value       = module.iam.task_api_role_arn
}

output "database_address" {
  description = "PostgreSQL host for the task API's DATABASE_URL."
  value       = module.rds.address
}

output "database_name" {
  description = "The task database."
  value       = module.rds.database_name
}

output "database_secret_arn" {
  description = "Secrets Manager secret with the database user and password (RDS-managed, rotated)."
  value       = module.rds.master_user_secret_arn
}

output "paging_topic_arn" {
  description = "SNS topic of the pages."
  value       = module.cloudwatch.paging_topic_arn
}

output "task_api_cloudwatch_namespace" {
  description = "task-api chart: agentSidecar.cloudwatch.namespace (null without sidecar mode)."
  value       = local.task_api_cw_namespace
}

output "image_repositories" {
  description = "ECR repository URLs of task-api and node-agent (the charts' image.repository)."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "region" {
  description = "The region everything is in."
  value       = data.aws_region.current.name
}
