"""What happens when access changes: the Settings tab's modes, tickets and jobs."""
