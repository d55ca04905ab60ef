"""The API's resources, one module per area; each operation is written once for both clients."""
