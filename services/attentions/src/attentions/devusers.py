"""The development users: put in the staff directory at start when DEV_AUTH=true (never otherwise).

Documented in docs/attentions.md; POST /dev/token {"user_id": ...} signs a token for any active staff member.
"""

from __future__ import annotations

from attentions.domain.staff import StaffRecord

DEV_USERS: tuple[StaffRecord, ...] = (
    StaffRecord(
        "u-admin", "Ana Martínez", "ana.martinez@edesal.example", "Gerencia General", None, ("admin",)
    ),
    StaffRecord(
        "u-gtecnico",
        "José Ramírez",
        "jose.ramirez@edesal.example",
        "Gerencia Técnica",
        "u-admin",
        ("technical_manager",),
    ),
    StaffRecord(
        "u-tecnico",
        "Luis Hernández",
        "luis.hernandez@edesal.example",
        "Gerencia Técnica",
        "u-gtecnico",
        ("agent",),
    ),
    StaffRecord(
        "u-comercial", "María López", "maria.lopez@edesal.example", "Comercial", "u-admin", ("agent",)
    ),
    StaffRecord(
        "u-atencion",
        "Carlos Rivas",
        "carlos.rivas@edesal.example",
        "Atención al Cliente",
        "u-comercial",
        ("agent",),
    ),
)
