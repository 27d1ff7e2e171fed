variable "name" {
  description = "Name prefix of the key, topic and alarms (e.g. the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,64}$", var.name))
    error_message = "name must be 1-64 letters, digits or hyphens."
  }
}

variable "cluster_name" {
  description = "The ClusterName dimension the agents send (their identity.cluster)."
  type        = string
}

variable "log_groups" {
  description = "Log groups to create, by name, with their retention in days."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for days in values(var.log_groups) : contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], days)])
    error_message = "Each log group's retention must be one of CloudWatch Logs' values (1, 3, 5, 7, 14, 30, 60, 90, ... 3653 days)."
  }
}

variable "paging_subscriptions" {
  description = "Who the paging topic notifies: protocol (email, https, sms, sqs, lambda) and endpoint."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.paging_subscriptions : contains(["email", "https", "sms", "sqs", "lambda"], s.protocol)])
    error_message = "paging_subscriptions protocols must be email, https, sms, sqs or lambda."
  }
}

variable "node_namespace" {
  description = "The node agents' CloudWatch namespace (their sinks.cloudwatch.namespace)."
  type        = string
  default     = "Watchpost/Node"
}

variable "node_memory_available_min_bytes" {
  description = "Page when the node with the least MemAvailable has less than this."
  type        = number
  default     = 268435456

  validation {
    condition     = var.node_memory_available_min_bytes > 0
    error_message = "node_memory_available_min_bytes must be positive."
  }
}

variable "node_root_filesystem_available_min_bytes" {
  description = "Page when the fullest node's root filesystem has less than this available."
  type        = number
  default     = 2147483648

  validation {
    condition     = var.node_root_filesystem_available_min_bytes > 0
    error_message = "node_root_filesystem_available_min_bytes must be positive."
  }
}

variable "task_api_namespace" {
  description = "Sidecar mode: the namespace of the task API's metrics (agentSidecar.cloudwatch.namespace); null adds no API alarms."
  type        = string
  default     = null
}

variable "task_api_error_ratio_percent" {
  description = "Page when more than this percentage of API requests answer 5xx over 5 minutes."
  type        = number
  default     = 1

  validation {
    condition     = var.task_api_error_ratio_percent > 0 && var.task_api_error_ratio_percent < 100
    error_message = "task_api_error_ratio_percent must be between 0 and 100 (exclusive)."
  }
}

variable "task_api_slow_ratio_percent" {
  description = "Page when more than this percentage of API requests take longer than 500 ms over 5 minutes."
  type        = number
  default     = 5

  validation {
    condition     = var.task_api_slow_ratio_percent > 0 && var.task_api_slow_ratio_percent < 100
    error_message = "task_api_slow_ratio_percent must be between 0 and 100 (exclusive)."
  }
}

variable "rds_instance_identifier" {
  description = "The RDS instance to alarm on (CPU, storage); null for none."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
