"""A COMANDA simulator: consumes ticket assignments, keeps each person's inbox, publishes status changes in
COMANDA's format. A library (``ComandaSimulator``) and a CLI (``python -m tickets.comanda_sim --help``)."""

from tickets.comanda_sim.simulator import ComandaSimulator, SimulatorError
from tickets.comanda_sim.store import InboxItem, MemoryStore, SqliteStore

__all__ = ["ComandaSimulator", "InboxItem", "MemoryStore", "SimulatorError", "SqliteStore"]
