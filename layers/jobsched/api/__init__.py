"""The HTTP edge shared by the API functions: the error envelope, response shapes, the caller."""
