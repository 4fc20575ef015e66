"""Cloud quotas: how many of each quota-bound resource the compile creates, per account/region/key.

One module per cloud (``aws``, ``azure``, ``gcp``, ``oci``, ``ibm``) holds that cloud's quota table:
the documented default of each quota, its doc URL, whether the number was checked against the doc
when it was written, and which Terraform resource types count against it at which scope. What each
stack uses is declared by each cloud's quota plan (``CloudProfile.quota_usage``,
``paybill/providers/<cloud>/usage.py``); :mod:`paybill.resolve.quotas` adds it up over the fleet at
validate and reports the tenant that crosses 80 % (warning PB0681) or 100 % (error PB0682) of a
quota; PB0680 is an override naming no quota.
"""

from paybill.quotas.model import Quota, Scope
from paybill.quotas.tables import QUOTAS, quota_names

__all__ = ["QUOTAS", "Quota", "Scope", "quota_names"]
