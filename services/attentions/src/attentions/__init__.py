"""The attentions service of the EDESAL CRM.

Staff, clients, suministros replica, attentions, events and ticket requests.
"""
