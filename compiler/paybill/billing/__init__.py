"""``paybill billing``: subscription events from the billing system become reviewed tenant changes.

The truth about a subscription lives in the billing system (Stripe); the truth about a tenant lives
in git. This package closes the loop without giving up the GitOps rule: every change it wants is a
proposal branch with a pull-request body, checked by the same change control as ``paybill propose``.

* :mod:`.events`    - Stripe event payloads -> typed :class:`~.events.BillingEvent` (the handled types).
* :mod:`.verify`    - ``Stripe-Signature`` verification with the official ``stripe`` library.
* :mod:`.store`     - exactly-once bookkeeping: a JSON file for one receiver, PostgreSQL for several.
* :mod:`.policy`    - the repository's BillingPolicy, plans by price id and tenants by customer id.
* :mod:`.decide`    - ordered events + dunning deadlines + the clock -> the tenant's target fields.
* :mod:`.onboard`   - a new Tenant spec from the policy's onboarding rules, or what is missing.
* :mod:`.proposal`  - a branch per tenant change through the ``propose`` machinery.
* :mod:`.engine`    - one processing pass (``sync``) under the store's lock.
* :mod:`.server`    - the loopback HTTP receiver (``serve``).

Layering: this package may import plan, propose and the compiler below them; nothing imports it but
the command line.
"""
