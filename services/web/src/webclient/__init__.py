"""The web client of the EDESAL CRM: Spanish server-rendered pages over the services' APIs."""
