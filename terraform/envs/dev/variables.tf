variable "region" {
  description = "AWS region of the environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "azs" {
  description = "Availability zones (two or three)."
  type        = list(string)
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to the EKS API endpoint; empty keeps it private."
  type        = list(string)
  default     = []
}

variable "paging_subscriptions" {
  description = "Who gets the dev alarms (an email is enough)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}
