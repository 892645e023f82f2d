"""The demo company: loaded once, then only described (the command is idempotent)."""

from __future__ import annotations

from core.auth import Actor
from domain import accounts, catalog, floor
from events.services import Services
from storage.sql import one

OWNER_EMAIL = "owner@demo.cafe"
PASSWORD = "demo-pass-1"
STAFF = (
    ("admin@demo.cafe", "admin", None),
    ("manager@demo.cafe", "manager", "Central"),
    ("waiter@demo.cafe", "waiter", "Central"),
    ("cook@demo.cafe", "cook", "Central"),
    ("cashier@demo.cafe", "cashier", "Central"),
    ("waiter2@demo.cafe", "waiter", "Riverside"),
    ("client@demo.cafe", "client", None),
)
# (title, price, station, prep_minutes): the hot kitchen and the bar each get their own screen.
MENU = (
    ("Margherita", "450.00", "kitchen", 12),
    ("Carbonara", "520.00", "kitchen", 15),
    ("Cheesecake", "300.00", "kitchen", 5),
    ("Cappuccino", "180.00", "bar", 4),
    ("Lemonade", "150.00", "bar", 2),
)
SELECT_OWNER = "SELECT id, company_id FROM users WHERE email = :email"
SELECT_LOGINS = """
SELECT u.email, u.role, b.name AS branch FROM users u LEFT JOIN branches b ON b.id = u.branch_id
WHERE u.company_id = :company_id ORDER BY u.created_at
"""


async def load(services: Services) -> str:
    owner = await services.database.fetch_one(SELECT_OWNER, {"email": OWNER_EMAIL})
    if owner is None:
        created = await accounts.create_company(services, "Demo Cafe", OWNER_EMAIL, PASSWORD)
        await _furnish(services, Actor(created["owner_id"], "owner", created["company_id"], None))
        owner = one(await services.database.fetch_one(SELECT_OWNER, {"email": OWNER_EMAIL}))
    return await _describe(services, Actor(owner["id"], "owner", owner["company_id"], None))


async def _furnish(services: Services, owner: Actor) -> None:
    branches = {}
    for name, city_id in (("Central", 1), ("Riverside", 2)):
        branches[name] = await accounts.create_branch(services, owner, {"name": name, "city_id": city_id})
    for email, role, branch in STAFF:
        data = {"email": email, "password": PASSWORD, "role": role}
        if branch:
            data["branch"] = branches[branch]["id"]
        await accounts.create_user(services, owner, data)
    for name, count in (("Central", 6), ("Riverside", 3)):
        branch_id = branches[name]["id"]
        zone = await floor.create_zone(services, owner, {"title": "Hall", "branch": branch_id})
        for number in range(1, count + 1):
            await floor.create_table(
                services, owner, {"number": number, "places": 4, "zone": zone["id"], "branch": branch_id}
            )
    for title, price, station, prep_minutes in MENU:
        item = {"title": title, "price": price, "station": station, "prep_minutes": prep_minutes}
        await catalog.create_menu_item(services, owner, item)
    await catalog.create_client(services, owner, {"name": "Anna Petrova", "phone": "+79990000001"})


def _no_branch(role: str) -> str:
    return "(all branches)" if role in ("owner", "admin") else "-"


async def _describe(services: Services, owner: Actor) -> str:
    logins = await services.database.fetch_all(SELECT_LOGINS, {"company_id": owner.company_id})
    lines = [f"Demo company is ready. Every login's password: {PASSWORD}", ""]
    lines += [f"  {row['email']:<22} {row['role']:<8} {row['branch'] or _no_branch(row['role'])}" for row in logins]
    central = next(branch for branch in await accounts.list_branches(services, owner) if branch["name"] == "Central")
    tables = await floor.list_tables(services, owner, central["id"])
    menu = await catalog.list_menu_items(services, owner, None)
    lines += ["", f"  Central branch: {central['id']}"]
    lines += [f"  Central table {table['number']}: {table['id']} ({table['status']})" for table in tables[:2]]
    lines += [f"  Menu item {item['title']} ({item['station']}): {item['id']}" for item in menu[:2]]
    lines += ["", "  Kitchen screens: /board/?station=kitchen and /board/?station=bar (sign in as cook@demo.cafe)"]
    return "\n".join(lines)
