"""Refuse answers that would generate a connector that cannot load."""

import re
import sys

ENTITIES = {"orders", "products", "stock", "customers", "shipments", "refunds"}
ORDER_TYPES = {"sales_order", "invoice", "direct_invoice", "quote", "financial_entry"}

problems = []
for key, allowed, text in (
    ("reads", ENTITIES, "{{ cookiecutter.reads }}"),
    ("writes", ENTITIES, "{{ cookiecutter.writes }}"),
    ("order_types", ORDER_TYPES, "{{ cookiecutter.order_types }}"),
):
    unknown = [v for v in text.replace(" ", "").split(",") if v and v not in allowed]
    if unknown:
        problems.append(f"{key}: unknown {', '.join(unknown)}; use {', '.join(sorted(allowed))}")
if not re.fullmatch(r"[a-z][a-z0-9_]*", "{{ cookiecutter.name }}"):
    problems.append("name: lower-case letters, digits and _ only, starting with a letter")
for key, text in (("images", "{{ cookiecutter.images }}"), ("stock_batch", "{{ cookiecutter.stock_batch }}")):
    if not text.isdigit():
        problems.append(f"{key}: a whole number, not {text!r}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
