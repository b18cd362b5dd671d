"""The tickets service of the EDESAL CRM.

Tickets materialized from requests, COMANDA integration and rollup, technical work orders.
"""
