# Each environment is a root module of its own, so a plan of one cannot touch the other's
# state: a backend block takes no variables, so this file and variables.tf (whose rules
# differ: production requires three AZs and a pager) stand in every envs/*; the rest is
# shared through modules/watchpost.
terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State in S3 with S3's native lock file (no DynamoDB table needed since Terraform 1.10).
  # Bucket and region come from backend.hcl: terraform init -backend-config=backend.hcl
  backend "s3" {
    key          = "watchpost/prod/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "watchpost", Environment = "prod", ManagedBy = "terraform" }
  }
}
