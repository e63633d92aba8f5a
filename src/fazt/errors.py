"""The product's refusals: an error code and a message, without any HTTP status.

Subsystems raise these (a deploy that cannot go live, a webhook signature refused, a
release that does not verify); the HTTP layer maps each code to a status in one table
(fazt.api.errors), and the CLI and MCP show the message. Codes are the stable public names
listed in docs/api.md.
"""


class FaztError(Exception):
    """A request refused for a reason the caller should know; `code` is UPPER_SNAKE."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message
