"""REST API of the customer-profile domain, split by sub-domain."""
