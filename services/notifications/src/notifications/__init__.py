"""The notifications service of the EDESAL CRM: assignment emails, reminders and escalation ladders."""
