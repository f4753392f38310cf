"""Offline verification: pass text + trust bundle(s) + checkpoint zone + time -> verdict.

Imports only the domain and the pass scheme (a test enforces it), so it runs on an agent's
machine with no server and no database.
"""

from cirqliz.verify.core import Reason, Status, Verdict, verify_pass
from cirqliz.verify.federation import TrustSet, open_trust_set, parse_zone_ref, verify_federated

__all__ = ["Reason", "Status", "TrustSet", "Verdict", "open_trust_set", "parse_zone_ref", "verify_federated",
           "verify_pass"]
