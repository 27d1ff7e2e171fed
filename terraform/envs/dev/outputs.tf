output "watchpost" {
  description = "Everything the Helm installation needs (docs/deploy.md)."
  value       = module.watchpost
}
