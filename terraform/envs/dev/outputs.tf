output "watchpost" {
  description = "Everything the Helm installation needs (docs/deployment.md)."
  value       = module.watchpost
}
