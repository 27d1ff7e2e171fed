data "aws_partition" "current" {}

locals {
  policy_prefix = "arn:${data.aws_partition.current.partition}:iam::aws:policy"
}

# Envelope encryption of Kubernetes Secrets (the database URL, the JWT key).
resource "aws_kms_key" "secrets" {
  #checkov:skip=CKV2_AWS_64:the default key policy (this account's IAM decides) is intended; EKS uses the key through the cluster role's grant
  description             = "EKS ${var.cluster_name} Kubernetes Secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/eks/${var.cluster_name}"
  target_key_id = aws_kms_key.secrets.key_id
}

# The roles AWS services assume for the cluster, by name after "<cluster_name>-": the
# service trusted, what it may call on STS, and the AWS managed policies it gets.
locals {
  service_roles = merge(
    {
      cluster = {
        service  = "eks.amazonaws.com"
        actions  = ["sts:AssumeRole", "sts:TagSession"]
        policies = ["AmazonEKSClusterPolicy"]
      }
      node = {
        service  = "ec2.amazonaws.com"
        actions  = ["sts:AssumeRole"]
        policies = ["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"]
      }
    },
    length(var.fargate_profiles) == 0 ? {} : {
      fargate-pod-execution = {
        service  = "eks-fargate-pods.amazonaws.com"
        actions  = ["sts:AssumeRole"]
        policies = ["AmazonEKSFargatePodExecutionRolePolicy"]
      }
    },
  )
  service_role_policies = merge([
    for role, r in local.service_roles : { for policy in r.policies : "${role}/${policy}" => { role = role, policy = policy } }
  ]...)
}

data "aws_iam_policy_document" "service_assume" {
  for_each = local.service_roles
  statement {
    actions = each.value.actions
    principals {
      type        = "Service"
      identifiers = [each.value.service]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each           = local.service_roles
  name               = "${var.cluster_name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.service_assume[each.key].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  for_each   = local.service_role_policies
  role       = aws_iam_role.service[each.value.role].name
  policy_arn = "${local.policy_prefix}/${each.value.policy}"
}

# Created before the cluster so EKS does not create it without retention or encryption.
resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.cluster_name}/cluster"
  retention_in_days = var.cluster_log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_eks_cluster" "this" {
  name     = var.cluster_name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.service["cluster"].arn

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  access_config {
    authentication_mode                         = "API"
    bootstrap_cluster_creator_admin_permissions = true
  }

  vpc_config {
    subnet_ids              = var.subnet_ids
    endpoint_private_access = true
    endpoint_public_access  = var.endpoint_public_access
    public_access_cidrs     = var.endpoint_public_access ? var.endpoint_public_access_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.secrets.arn
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.service, aws_cloudwatch_log_group.cluster]
}

# IRSA: service accounts exchange their projected token for role credentials. AWS verifies
# EKS issuers against its own trust store, so the thumbprint is not consulted.
resource "aws_iam_openid_connect_provider" "this" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

resource "aws_launch_template" "node" {
  for_each = var.node_groups
  name     = "${var.cluster_name}-${each.key}"

  # IMDSv2 only, one hop: hostNetwork pods (the node agent's instance_from_metadata) are
  # in the node's network namespace and reach it; other pods cannot borrow the node's
  # role and use IRSA instead.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = each.value.disk_size_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.cluster_name}-${each.key}" })
  }

  tags = var.tags
}

resource "aws_eks_node_group" "this" {
  for_each        = var.node_groups
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.service["node"].arn
  subnet_ids      = var.subnet_ids
  instance_types  = each.value.instance_types
  capacity_type   = each.value.capacity_type
  labels          = each.value.labels

  scaling_config {
    min_size     = each.value.min_size
    max_size     = each.value.max_size
    desired_size = each.value.desired_size
  }

  update_config {
    max_unavailable = 1
  }

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.service]

  # The cluster autoscaler owns the count once created.
  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }
}

resource "aws_eks_addon" "this" {
  for_each                    = toset(["vpc-cni", "coredns", "kube-proxy"])
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags
  depends_on                  = [aws_eks_node_group.this]
}

resource "aws_eks_fargate_profile" "this" {
  for_each               = var.fargate_profiles
  cluster_name           = aws_eks_cluster.this.name
  fargate_profile_name   = each.key
  pod_execution_role_arn = aws_iam_role.service["fargate-pod-execution"].arn
  subnet_ids             = var.subnet_ids

  selector {
    namespace = each.value.namespace
    labels    = each.value.labels
  }

  tags = var.tags
}
