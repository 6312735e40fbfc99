"""Object storage (S3) and the streams and transfers over it."""
