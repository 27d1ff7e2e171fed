output "address" {
  description = "The instance's DNS name."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "The PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "The application database."
  value       = aws_db_instance.this.db_name
}

output "master_username" {
  description = "The master user's name."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON username/password) of the master user, rotated by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "The instance's security group."
  value       = aws_security_group.this.id
}

output "identifier" {
  description = "The DB instance identifier (CloudWatch's DBInstanceIdentifier dimension)."
  value       = aws_db_instance.this.identifier
}
