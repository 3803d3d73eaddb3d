"""Ops' Azure-side tasks through the resource manager (azure-mgmt-communication): sender
usernames, SMTP usernames, and the verification of a domain's DNS records."""
