"""PB0412: a cloud's address space is a private IPv4 network large enough for tenant networks."""

import ipaddress

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule

MAX_PREFIX = 16  # tenant and pool networks are /16s carved from the address space (then /20 subnets)


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Cloud"):
        text = doc.model.spec.address_space
        try:
            network = ipaddress.IPv4Network(text, strict=True)
        except ValueError as exc:
            report(doc, ("spec", "addressSpace"), f"invalid address space '{text}': {exc}")
            continue
        if not network.is_private:
            report(doc, ("spec", "addressSpace"), f"address space {text} is not a private range",
                   "use 10.0.0.0/8, 172.16.0.0/12 or 100.64.0.0/10")
        elif network.prefixlen > MAX_PREFIX:
            report(doc, ("spec", "addressSpace"),
                   f"address space {text} is smaller than one /{MAX_PREFIX} network",
                   "use a /8 to /16 range")


RULE = Rule("PB0412", "invalid cloud address space", check)
