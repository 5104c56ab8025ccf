"""Onboarding a connection onto a QuickBooks company that already has its lists.

- `company`: what the gateway read of the company (KV `qb-company`).
- `matching`: ServiceTitan records against QuickBooks list entries, each match with a reason
  and a confidence, ambiguous ones never guessed.
- `plan`, `store`: the review the operator confirms or changes (KV `onboarding`).
- `confirm`: a confirmed review into the id map, the mapping settings and the connection.
- `holds`: names QuickBooks refused later (3100), waiting for the operator's choice.
- `mapping_check`: the mapping settings against the company's real lists.
"""
