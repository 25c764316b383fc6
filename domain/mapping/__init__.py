"""Attribute mappings: which SCIM attribute receives which SmartLink value."""
