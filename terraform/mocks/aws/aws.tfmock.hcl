# The AWS provider every module's `terraform test` plans against: computed values the
# modules read (region, partition, account, policy JSON, the EKS issuer) get a fixed,
# well-formed value instead of a random string.
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_iam_policy_document" {
  defaults = { json = "{}" }
}

mock_resource "aws_eks_cluster" {
  defaults = {
    identity = [{ oidc = [{ issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE" }] }]
  }
}
