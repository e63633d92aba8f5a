"""Privacy-first analytics, redirects, inbound webhooks and request metrics.

No cookies and no IP addresses: a visitor is a salted hash whose salt rotates daily.
Hits are buffered in memory and written in batches by one task (fazt.analytics.service);
the dashboard reads daily rollups (fazt.analytics.queries).
"""
