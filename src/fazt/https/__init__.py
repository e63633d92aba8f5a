"""HTTPS with ACME: one certificate for every name fazt serves, issued and renewed in-process.

Granian reads one certificate and key from files when a listener starts, so:

- config:    the saved `https_*` settings (`fazt server start --https ...`)
- names:     which names fazt serves, in priority order (at most 100 per certificate)
- store:     certificates, the ACME account key, challenges and failures, in the database
- certs:     key/CSR/certificate helpers and the private runtime files Granian reads
- acme:      one issuance through an ACME CA with HTTP-01 (aioacme)
- manager:   the loop that decides when to (re-)issue, retries with backoff, then reloads
- redirect:  the plain-HTTP listener: ACME challenges, everything else -> https
- listeners: starting the TLS and plain-HTTP listeners inside a worker
"""
