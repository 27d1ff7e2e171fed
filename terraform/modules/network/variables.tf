variable "name" {
  description = "Name prefix of every resource (and the VPC's Name tag)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "cidr" {
  description = "The VPC's IPv4 CIDR block; split into /20 subnets (public, private, database per AZ)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 18
    error_message = "cidr must be a valid IPv4 CIDR of /18 or larger (nine /20-or-smaller subnets are cut from it)."
  }
}

variable "azs" {
  description = "Availability zones, one subnet of each tier and one NAT gateway per zone."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 6 && length(distinct(var.azs)) == length(var.azs)
    error_message = "azs must list 2 to 6 distinct availability zones (3 for production)."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, for dev); false gives one per AZ so a zone outage does not cut the others' egress."
  type        = bool
  default     = false
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints instead of NAT: what the agent (monitoring), IRSA (sts), nodes (ec2, ecr, eks-auth) and the log path (logs) call."
  type        = set(string)
  default     = ["monitoring", "logs", "sts", "ec2", "ecr.api", "ecr.dkr", "secretsmanager", "elasticloadbalancing", "autoscaling", "eks-auth"]

  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints are service names such as monitoring or ecr.api (without com.amazonaws.<region>.)."
  }
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet tags the AWS load balancer controller discovers subnets by."
  type        = string
}

variable "flow_logs_retention_days" {
  description = "Retention of the VPC flow logs' log group."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key encrypting the flow logs' log group (the cloudwatch module's logs key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
