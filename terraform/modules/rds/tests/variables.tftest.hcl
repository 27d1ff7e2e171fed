mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  identifier                 = "watchpost-test"
  subnet_group_name          = "watchpost-test"
  vpc_id                     = "vpc-123"
  allowed_security_group_ids = ["sg-123"]
}

run "production_defaults_are_safe" {
  command = plan

  assert {
    condition     = aws_db_instance.this.multi_az && aws_db_instance.this.storage_encrypted && aws_db_instance.this.deletion_protection
    error_message = "Multi-AZ, encryption and deletion protection are the defaults"
  }
  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.performance_insights_enabled
    error_message = "the password lives in Secrets Manager and Performance Insights is on"
  }
  assert {
    condition     = one([for p in aws_db_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "TLS must be required"
  }
  assert {
    condition     = !aws_db_instance.this.publicly_accessible
    error_message = "the database must not be public"
  }
}

run "short_backup_retention_is_refused" {
  command = plan
  variables { backup_retention_days = 1 }
  expect_failures = [var.backup_retention_days]
}

run "reserved_master_username_is_refused" {
  command = plan
  variables { master_username = "postgres" }
  expect_failures = [var.master_username]
}

run "invalid_identifier_is_refused" {
  command = plan
  variables { identifier = "Watchpost_DB" }
  expect_failures = [var.identifier]
}

run "no_allowed_client_is_refused" {
  command = plan
  variables { allowed_security_group_ids = [] }
  expect_failures = [var.allowed_security_group_ids]
}

run "performance_insights_retention_must_be_whole_months" {
  command = plan
  variables { performance_insights_retention_days = 30 }
  expect_failures = [var.performance_insights_retention_days]
}
