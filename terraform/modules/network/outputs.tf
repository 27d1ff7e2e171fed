output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets, one per AZ (load balancers, NAT gateways)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, one per AZ (nodes, Fargate pods, endpoints)."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Database subnets, one per AZ, without a route out of the VPC."
  value       = aws_subnet.database[*].id
}

output "database_subnet_group_name" {
  description = "The RDS subnet group over the database subnets."
  value       = aws_db_subnet_group.database.name
}

output "nat_public_ips" {
  description = "Egress addresses of the private subnets."
  value       = aws_eip.nat[*].public_ip
}

output "interface_endpoint_ids" {
  description = "Interface VPC endpoints by service."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}
