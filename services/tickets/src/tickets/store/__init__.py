"""SQL behind small functions (asyncpg, no ORM): one module per aggregate."""
