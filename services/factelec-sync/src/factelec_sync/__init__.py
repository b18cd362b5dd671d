"""The factelec-sync service of the EDESAL CRM: supply points synced from factelec, the billing system."""
