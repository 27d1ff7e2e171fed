mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  cluster_name     = "watchpost-test"
  vpc_id           = "vpc-123"
  subnet_ids       = ["subnet-a", "subnet-b", "subnet-c"]
  logs_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/x"
  node_groups = {
    general = { instance_types = ["m7g.large"], min_size = 3, max_size = 6, desired_size = 3 }
  }
}

run "control_plane_logs_everything_and_encrypts_secrets" {
  command = plan

  assert {
    condition     = length(aws_eks_cluster.this.enabled_cluster_log_types) == 5
    error_message = "all five control-plane log types must be on"
  }
  assert {
    condition     = aws_eks_cluster.this.encryption_config[0].resources == toset(["secrets"])
    error_message = "Secrets must be envelope-encrypted"
  }
  assert {
    condition     = aws_launch_template.node["general"].metadata_options[0].http_tokens == "required"
    error_message = "nodes must require IMDSv2"
  }
  assert {
    condition     = length(aws_eks_fargate_profile.this) == 0
    error_message = "no Fargate profile unless asked"
  }
  assert {
    condition     = keys(aws_iam_role.service) == ["cluster", "node"] && length(aws_iam_role_policy_attachment.service) == 4
    error_message = "expected the cluster's and the nodes' roles with their four managed policies, and no Fargate role"
  }
}

run "fargate_profiles_get_a_pod_execution_role" {
  command = plan
  variables {
    fargate_profiles = { watchpost = { namespace = "watchpost" } }
  }

  assert {
    condition     = aws_iam_role.service["fargate-pod-execution"].name == "watchpost-test-fargate-pod-execution" && length(aws_eks_fargate_profile.this) == 1
    error_message = "a Fargate profile needs its pod execution role"
  }
}

run "kubernetes_older_than_the_charts_need_is_refused" {
  command = plan
  variables { kubernetes_version = "1.28" }
  expect_failures = [var.kubernetes_version]
}

run "node_group_with_desired_above_max_is_refused" {
  command = plan
  variables {
    node_groups = { general = { instance_types = ["m7g.large"], min_size = 1, max_size = 2, desired_size = 3 } }
  }
  expect_failures = [var.node_groups]
}

run "public_endpoint_open_to_the_world_is_refused" {
  command = plan
  variables { endpoint_public_access_cidrs = ["0.0.0.0/0"] }
  expect_failures = [var.endpoint_public_access_cidrs]
}

run "one_subnet_is_refused" {
  command = plan
  variables { subnet_ids = ["subnet-a"] }
  expect_failures = [var.subnet_ids]
}
