data "aws_region" "current" {}

# One Watchpost environment: network, EKS, PostgreSQL, IRSA roles, CloudWatch. The Helm
# releases are installed afterwards with Helm (docs/deploy.md), from these outputs.

locals {
  sidecar_mode            = length(var.fargate_namespaces) > 0
  task_api_cw_namespace   = local.sidecar_mode ? "Watchpost/TaskApi" : null
  node_agent_cw_namespace = "Watchpost/Node"
}

module "cloudwatch" {
  source = "../cloudwatch"

  name                    = var.name
  cluster_name            = var.name
  paging_subscriptions    = var.paging_subscriptions
  node_namespace          = local.node_agent_cw_namespace
  task_api_namespace      = local.task_api_cw_namespace
  rds_instance_identifier = module.rds.identifier
  log_groups = {
    "/watchpost/${var.name}/task-api" = var.log_retention_days
  }
  tags = var.tags
}

module "network" {
  source = "../network"

  name                     = var.name
  cidr                     = var.vpc_cidr
  azs                      = var.azs
  single_nat_gateway       = var.single_nat_gateway
  cluster_name             = var.name
  flow_logs_retention_days = var.log_retention_days
  logs_kms_key_arn         = module.cloudwatch.kms_key_arn
  tags                     = var.tags
}

module "eks" {
  source = "../eks"

  cluster_name                 = var.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  subnet_ids                   = module.network.private_subnet_ids
  endpoint_public_access       = length(var.endpoint_public_access_cidrs) > 0
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  cluster_log_retention_days   = var.log_retention_days
  logs_kms_key_arn             = module.cloudwatch.kms_key_arn
  node_groups                  = var.node_groups
  fargate_profiles             = { for ns in var.fargate_namespaces : ns => { namespace = ns } }
  tags                         = var.tags
}

module "rds" {
  source = "../rds"

  identifier                 = var.name
  instance_class             = var.database.instance_class
  allocated_storage_gib      = var.database.allocated_storage_gib
  multi_az                   = var.database.multi_az
  backup_retention_days      = var.database.backup_retention_days
  deletion_protection        = var.database.deletion_protection
  subnet_group_name          = module.network.database_subnet_group_name
  vpc_id                     = module.network.vpc_id
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  tags                       = var.tags
}

module "iam" {
  source = "../iam"

  name_prefix                   = var.name
  oidc_provider_arn             = module.eks.oidc_provider_arn
  oidc_issuer                   = module.eks.oidc_issuer
  agent_service_account         = { namespace = var.monitoring_namespace, name = "node-agent" }
  agent_cloudwatch_namespace    = local.node_agent_cw_namespace
  task_api_service_account      = { namespace = var.task_api_namespace, name = "task-api" }
  task_api_cloudwatch_namespace = local.task_api_cw_namespace
  tags                          = var.tags
}

# The two images (built from deploy/compose/Dockerfile); tags are release versions and never move.
resource "aws_kms_key" "ecr" {
  #checkov:skip=CKV2_AWS_64:the default key policy (this account's IAM decides) is intended; ECR uses the key through grants
  description             = "${var.name}: ECR images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_ecr_repository" "this" {
  for_each             = toset(["task-api", "node-agent"])
  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.ecr.arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
