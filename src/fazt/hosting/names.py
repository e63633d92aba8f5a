"""Site names are DNS labels; a few are reserved."""

import re

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

SYSTEM_SITES = ("root", "404", "admin")
# Names no deploy may take: the dashboard, infrastructure and mail/DNS labels.
RESERVED = frozenset(
    {
        "admin",
        "api",
        "www",
        "mail",
        "ftp",
        "smtp",
        "pop",
        "pop3",
        "imap",
        "ns1",
        "ns2",
        "mx",
        "localhost",
        "autoconfig",
        "autodiscover",
        "webmail",
    }
)


class InvalidSiteName(ValueError):
    pass


def validate_site_name(name: str) -> str:
    """Return the name if it is a usable site name, else raise InvalidSiteName."""
    if not 1 <= len(name) <= 63:
        raise InvalidSiteName("a site name must be 1-63 characters")
    if not _LABEL.match(name):
        raise InvalidSiteName(
            "a site name may contain only lower-case letters a-z, digits and hyphens, "
            "and must not start or end with a hyphen"
        )
    if "--" in name:
        # "name--42" is how preview deployments are addressed.
        raise InvalidSiteName("a site name must not contain '--' (reserved for previews)")
    if name in RESERVED:
        raise InvalidSiteName(f"'{name}' is a reserved name")
    return name


def validate_domain(domain: str) -> str:
    """A custom domain: lower-case DNS name with at least one dot."""
    domain = domain.strip().lower().rstrip(".")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValueError(f"'{domain}' is not a valid domain name")
    return domain
