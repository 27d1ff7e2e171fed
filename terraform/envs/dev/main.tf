# Dev: the same modules, cheaper settings (one NAT gateway, single-AZ database without
# deletion protection, spot nodes) and the task API on Fargate with the sidecar agent, so
# the sidecar path is exercised before production.
module "watchpost" {
  source = "../../modules/watchpost"

  name                         = "watchpost-dev"
  azs                          = var.azs
  vpc_cidr                     = "10.10.0.0/16"
  single_nat_gateway           = true
  kubernetes_version           = "1.31"
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  fargate_namespaces           = ["watchpost"]
  paging_subscriptions         = var.paging_subscriptions
  log_retention_days           = 14

  node_groups = {
    general = {
      instance_types = ["t4g.large", "m7g.large"]
      capacity_type  = "SPOT"
      min_size       = 1
      max_size       = 3
      desired_size   = 2
    }
  }

  database = {
    instance_class        = "db.t4g.micro"
    allocated_storage_gib = 20
    multi_az              = false
    backup_retention_days = 7
    deletion_protection   = false
  }
}
