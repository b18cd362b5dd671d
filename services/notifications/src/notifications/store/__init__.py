"""SQL of the notifications service (asyncpg), behind small functions."""
