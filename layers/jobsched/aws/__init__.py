"""boto3 clients and DynamoDB helpers shared by every adapter."""
