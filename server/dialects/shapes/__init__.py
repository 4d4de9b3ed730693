"""The answers of each dialect, as TypedDicts: what the routes return and what the OpenAPI document says."""
