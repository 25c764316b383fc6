"""Provisioning automation: the Settings tab's modes, tickets and jobs."""
