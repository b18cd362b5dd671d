"""The reports service of the EDESAL CRM: period reports per client or suministro, exports and charts."""
