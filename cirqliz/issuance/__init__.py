"""Services that change state: keys, applications, issuance, revocation."""
