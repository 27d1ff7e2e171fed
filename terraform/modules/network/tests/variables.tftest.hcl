# Variable validation and the subnet layout, planned against a mocked AWS provider.
mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name             = "watchpost-test"
  azs              = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  cluster_name     = "watchpost-test"
  logs_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
}

run "three_azs_get_three_subnets_of_each_tier_and_a_nat_gateway_each" {
  command = plan

  assert {
    condition     = length(aws_subnet.private) == 3 && length(aws_subnet.public) == 3 && length(aws_subnet.database) == 3
    error_message = "expected one subnet of each tier per AZ"
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3
    error_message = "expected a NAT gateway per AZ"
  }
  assert {
    condition     = aws_subnet.database[2].cidr_block == "10.0.224.0/20" && aws_subnet.private[0].cidr_block == "10.0.96.0/20"
    error_message = "unexpected subnet layout"
  }
  assert {
    condition     = contains(keys(aws_vpc_endpoint.interface), "monitoring") && contains(keys(aws_vpc_endpoint.interface), "sts")
    error_message = "the agent's CloudWatch and IRSA's STS endpoints are missing"
  }
}

run "single_nat_gateway_for_dev" {
  command = plan
  variables { single_nat_gateway = true }

  assert {
    condition     = length(aws_nat_gateway.this) == 1
    error_message = "expected one NAT gateway"
  }
}

run "one_az_is_refused" {
  command = plan
  variables { azs = ["eu-west-1a"] }
  expect_failures = [var.azs]
}

run "repeated_azs_are_refused" {
  command = plan
  variables { azs = ["eu-west-1a", "eu-west-1a", "eu-west-1b"] }
  expect_failures = [var.azs]
}

run "a_too_small_vpc_is_refused" {
  command = plan
  variables { cidr = "10.0.0.0/24" }
  expect_failures = [var.cidr]
}

run "an_unknown_retention_is_refused" {
  command = plan
  variables { flow_logs_retention_days = 10 }
  expect_failures = [var.flow_logs_retention_days]
}
