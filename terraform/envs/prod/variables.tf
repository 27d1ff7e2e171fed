variable "region" {
  description = "AWS region of the environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "azs" {
  description = "Three availability zones of the region."
  type        = list(string)

  validation {
    condition     = length(var.azs) == 3
    error_message = "Production spans exactly three availability zones."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "Office/VPN CIDRs allowed to the EKS API endpoint; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "paging_subscriptions" {
  description = "Who gets paged (e.g. the on-call tool's HTTPS endpoint)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
}

variable "sidecar_mode" {
  description = "Run the task API on Fargate with the agent as its sidecar (and the node-agent DaemonSet on the node groups)."
  type        = bool
  default     = false
}
