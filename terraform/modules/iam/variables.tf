variable "name_prefix" {
  description = "Prefix of the role names (e.g. the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1-40 characters valid in IAM role names."
  }
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (eks module)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be an IAM OIDC provider ARN."
  }
}

variable "oidc_issuer" {
  description = "The issuer without https:// (eks module's oidc_issuer)."
  type        = string

  validation {
    condition     = !startswith(var.oidc_issuer, "https://")
    error_message = "oidc_issuer must be written without https://, as IAM condition keys spell it."
  }
}

variable "agent_service_account" {
  description = "The node agent's service account (the node-agent chart's release)."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "monitoring", name = "node-agent" }
}

variable "agent_cloudwatch_namespace" {
  description = "The only CloudWatch namespace the node agent may put metrics in (its sinks.cloudwatch.namespace)."
  type        = string
  default     = "Watchpost/Node"

  validation {
    condition     = length(var.agent_cloudwatch_namespace) > 0 && !startswith(var.agent_cloudwatch_namespace, "AWS/")
    error_message = "agent_cloudwatch_namespace must be non-empty and not start with AWS/ (reserved)."
  }
}

variable "task_api_service_account" {
  description = "The task API's service account (the task-api chart's release)."
  type = object({
    namespace = string
    name      = string
  })
  default = { namespace = "watchpost", name = "task-api" }
}

variable "task_api_cloudwatch_namespace" {
  description = "Sidecar mode: the CloudWatch namespace the agent in the task API's pods puts metrics in (agentSidecar.cloudwatch.namespace); null without the sidecar."
  type        = string
  default     = null

  validation {
    condition     = var.task_api_cloudwatch_namespace == null || !startswith(coalesce(var.task_api_cloudwatch_namespace, "x"), "AWS/")
    error_message = "task_api_cloudwatch_namespace must not start with AWS/ (reserved)."
  }
}

variable "task_api_policy_arns" {
  description = "Further managed policies for the task API's role."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
