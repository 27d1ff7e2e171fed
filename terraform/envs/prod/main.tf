module "watchpost" {
  source = "../../modules/watchpost"

  name                         = "watchpost-prod"
  azs                          = var.azs
  vpc_cidr                     = "10.20.0.0/16"
  single_nat_gateway           = false
  kubernetes_version           = "1.31"
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  fargate_namespaces           = var.sidecar_mode ? ["watchpost"] : []
  paging_subscriptions         = var.paging_subscriptions
  log_retention_days           = 365

  node_groups = {
    general = {
      instance_types = ["m7g.large"]
      min_size       = 3
      max_size       = 12
      desired_size   = 3
    }
  }

  database = {
    instance_class        = "db.r7g.large"
    allocated_storage_gib = 100
    multi_az              = true
    backup_retention_days = 30
    deletion_protection   = true
  }
}
