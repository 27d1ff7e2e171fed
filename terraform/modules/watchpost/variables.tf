variable "name" {
  description = "Environment name: the cluster, the VPC and every resource are named after it (e.g. watchpost-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block."
  type        = string
  default     = "10.0.0.0/16"
}

variable "azs" {
  description = "Availability zones (3 for production)."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ (dev only)."
  type        = bool
  default     = false
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.31"
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to the EKS API endpoint from the internet; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "node_groups" {
  # The eks module's node_groups, passed through: its type (with the optional fields'
  # defaults) and its validation are the one definition, so they are not restated here.
  description = "Managed node groups by name, as the eks module's node_groups (instance_types, capacity_type, min/max/desired_size, disk_size_gib, labels, taints)."
  type        = any
}

variable "fargate_namespaces" {
  description = "Namespaces whose pods run on Fargate (the task API in sidecar mode); empty for none."
  type        = list(string)
  default     = []
}

variable "database" {
  description = "RDS PostgreSQL settings (see the rds module)."
  type = object({
    instance_class        = optional(string, "db.t4g.medium")
    allocated_storage_gib = optional(number, 50)
    multi_az              = optional(bool, true)
    backup_retention_days = optional(number, 14)
    deletion_protection   = optional(bool, true)
  })
  default = {}
}

variable "log_retention_days" {
  description = "Retention of the cluster, flow and application log groups."
  type        = number
  default     = 90
}

variable "paging_subscriptions" {
  description = "Who the paging topic notifies."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "task_api_namespace" {
  description = "Kubernetes namespace of the task API release."
  type        = string
  default     = "watchpost"
}

variable "monitoring_namespace" {
  description = "Kubernetes namespace of the node agent and Prometheus."
  type        = string
  default     = "monitoring"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
